//! Runs a parsed template: variables in scopes, Go's truth, field access
//! on maps (missing keys are empty, as `missingkey=zero`), pipelines that
//! pass the previous result as the last argument.

use super::gofmt::print_val;
use super::parse::{Arg, Node, Pipeline};
use super::{Data, MAX_OUTPUT_BYTES, TemplateError, Val, funcs};

/// Most iterations of all `range` loops of one expansion.
const MAX_STEPS: usize = 100_000;

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a, 'd> {
    data: &'a Data<'d>,
    vars: Vec<(String, Val)>,
    out: String,
    steps: usize,
}

fn fail(msg: impl Into<String>) -> TemplateError {
    TemplateError(msg.into())
}

fn field(v: Val, names: &[String]) -> Result<Val, TemplateError> {
    let mut cur = v;
    for n in names {
        cur = match cur {
            Val::Map(mut m) => m.remove(n).unwrap_or(Val::Str(String::new())),
            Val::Nil => return Err(fail(format!("nil pointer evaluating interface {{}}.{n}"))),
            other => {
                return Err(fail(format!(
                    "can't evaluate field {n} in type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(cur)
}

impl Exec<'_, '_> {
    fn dot(&self) -> Val {
        self.var("$").unwrap_or(Val::Nil)
    }

    fn var(&self, name: &str) -> Option<Val> {
        if name == "." {
            return self
                .vars
                .iter()
                .rev()
                .find(|(n, _)| n == ".")
                .map(|(_, v)| v.clone());
        }
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn arg(&mut self, a: &Arg) -> Result<Val, TemplateError> {
        Ok(match a {
            Arg::Field(f) => field(self.var(".").unwrap_or(Val::Nil), f)?,
            Arg::Var(name, f) => {
                let v = if name == "$" {
                    self.dot()
                } else {
                    self.var(name).unwrap_or(Val::Nil)
                };
                field(v, f)?
            }
            Arg::Func(name) => funcs::call(name, Vec::new(), self.data)?,
            Arg::Str(s) => Val::Str(s.clone()),
            Arg::Int(i) => Val::Int(*i),
            Arg::Float(f) => Val::Float(*f),
            Arg::Bool(b) => Val::Bool(*b),
            Arg::Nil => Val::Nil,
            Arg::Sub(p, f) => {
                let v = self.pipeline(p)?;
                field(v, f)?
            }
        })
    }

    fn pipeline(&mut self, p: &Pipeline) -> Result<Val, TemplateError> {
        let mut prev: Option<Val> = None;
        for cmd in &p.cmds {
            let v = match cmd.first() {
                Some(Arg::Func(name)) => {
                    // `and`/`or` short-circuit in Go; evaluating all is the
                    // same here, as no function has side effects.
                    let mut args = Vec::with_capacity(cmd.len());
                    for a in &cmd[1..] {
                        args.push(self.arg(a)?);
                    }
                    if let Some(pv) = prev.take() {
                        args.push(pv);
                    }
                    funcs::call(name, args, self.data)?
                }
                Some(a) => {
                    if cmd.len() > 1 || prev.is_some() {
                        return Err(fail("can't give argument to non-function"));
                    }
                    self.arg(a)?
                }
                None => Val::Nil,
            };
            prev = Some(v);
        }
        let v = prev.unwrap_or(Val::Nil);
        if p.define {
            for name in &p.decl {
                self.vars.push((name.clone(), v.clone()));
            }
        } else {
            for name in &p.decl {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = v.clone();
                }
            }
        }
        Ok(v)
    }

    fn write(&mut self, s: &str) -> Result<(), TemplateError> {
        if self.out.len() + s.len() > MAX_OUTPUT_BYTES {
            return Err(fail(format!("output longer than {MAX_OUTPUT_BYTES} bytes")));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn nodes(&mut self, nodes: &[Node]) -> Result<Flow, TemplateError> {
        for n in nodes {
            match n {
                Node::Text(t) => self.write(t)?,
                Node::Action(p) => {
                    let v = self.pipeline(p)?;
                    if p.decl.is_empty() {
                        self.write(&print_val(&v))?;
                    }
                }
                Node::If(p, then, els) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p)?;
                    let flow = self.nodes(if v.truth() { then } else { els })?;
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::With(p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p)?;
                    let flow = if v.truth() {
                        self.vars.push((".".into(), v));
                        self.nodes(body)?
                    } else {
                        self.nodes(els)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(p, body, els) => {
                    let mark = self.vars.len();
                    let decl = p.decl.clone();
                    let bare = Pipeline {
                        decl: Vec::new(),
                        define: false,
                        cmds: p.cmds.clone(),
                    };
                    let v = self.pipeline(&bare)?;
                    let items: Vec<(Val, Val)> = match v {
                        Val::Map(m) => m.into_iter().map(|(k, v)| (Val::Str(k), v)).collect(),
                        Val::List(l) => l
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| (Val::Int(i as i64), v))
                            .collect(),
                        Val::Nil => Vec::new(),
                        other => {
                            return Err(fail(format!(
                                "range can't iterate over {}",
                                print_val(&other)
                            )));
                        }
                    };
                    if items.is_empty() {
                        self.nodes(els)?;
                    }
                    for (k, v) in items {
                        self.steps += 1;
                        if self.steps > MAX_STEPS {
                            return Err(fail("too many range iterations"));
                        }
                        let inner = self.vars.len();
                        self.vars.push((".".into(), v.clone()));
                        match decl.as_slice() {
                            [e] => self.vars.push((e.clone(), v)),
                            [i, e] => {
                                self.vars.push((i.clone(), k));
                                self.vars.push((e.clone(), v));
                            }
                            _ => {}
                        }
                        let flow = self.nodes(body)?;
                        self.vars.truncate(inner);
                        if matches!(flow, Flow::Break) {
                            break;
                        }
                    }
                    self.vars.truncate(mark);
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }
}

/// Expands `nodes` over `data`.
pub fn run(nodes: &[Node], data: &Data<'_>) -> Result<String, TemplateError> {
    // Each field of the root is also a variable, as Prometheus's template
    // prelude (`{{$labels := .Labels}}…`) defines them.
    let fields = [
        ("Labels", "$labels", Val::labels(data.labels)),
        ("Value", "$value", Val::Float(data.value)),
        (
            "ExternalLabels",
            "$externalLabels",
            Val::labels(data.external_labels),
        ),
        (
            "ExternalURL",
            "$externalURL",
            Val::Str(data.external_url.to_string()),
        ),
    ];
    let root = Val::Map(
        fields
            .iter()
            .map(|(field, _, v)| (field.to_string(), v.clone()))
            .collect(),
    );
    let mut vars = vec![("$".to_string(), root.clone()), (".".to_string(), root)];
    vars.extend(fields.into_iter().map(|(_, var, v)| (var.to_string(), v)));
    let mut ex = Exec {
        data,
        vars,
        out: String::new(),
        steps: 0,
    };
    ex.nodes(nodes)?;
    Ok(ex.out)
}
