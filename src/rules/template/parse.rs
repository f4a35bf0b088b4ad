//! Go `text/template` syntax, the part alerting rules use: text and
//! `{{ }}` actions with trim markers and comments, pipelines, variables,
//! field chains, literals, `if`/`else if`/`else`, `range`, `with`,
//! `break`/`continue`. Functions are checked when parsed, as Go does.

use super::TemplateError;

/// One operand of a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `.` followed by fields (`.Labels.job`); empty: the dot itself.
    Field(Vec<String>),
    /// `$name` followed by fields.
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// A string literal.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// `( pipeline )` with fields after it.
    Sub(Box<Pipeline>, Vec<String>),
}

/// Commands joined by `|`, with an optional variable declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`).
    pub decl: Vec<String>,
    /// True for `:=`.
    pub define: bool,
    /// Each command's operands; the first may be a function.
    pub cmds: Vec<Vec<Arg>>,
}

/// A parsed template node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{ pipeline }}`: printed unless it declares a variable.
    Action(Pipeline),
    /// `if`, with the nodes of its branches.
    If(Pipeline, Vec<Node>, Vec<Node>),
    /// `range`, body and `else`.
    Range(Pipeline, Vec<Node>, Vec<Node>),
    /// `with`, body and `else`.
    With(Pipeline, Vec<Node>, Vec<Node>),
    /// `break` inside `range`.
    Break,
    /// `continue` inside `range`.
    Continue,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Num(String),
    Pipe,
    Open,
    Close(Vec<String>),
    Declare,
    Assign,
    Comma,
}

/// The functions a template may call.
pub const FUNCTIONS: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "args",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "now",
    "title",
    "toUpper",
    "toLower",
    "match",
    "reReplaceAll",
    "stripPort",
    "stripDomain",
    "graphLink",
    "tableLink",
    "parseDuration",
    "urlQueryEscape",
    "externalURL",
    "pathPrefix",
    "safeHtml",
    "and",
    "or",
    "not",
    "len",
    "index",
    "slice",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "html",
    "js",
    "urlquery",
];

fn err(line: usize, msg: impl Into<String>) -> TemplateError {
    TemplateError(format!("{line}: {}", msg.into()))
}

fn fields(s: &str) -> Vec<String> {
    s.split('.')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The token a character makes on its own (`:=` and `)` take more).
fn one_char_token(c: char) -> Option<Tok> {
    match c {
        '|' => Some(Tok::Pipe),
        '(' => Some(Tok::Open),
        ',' => Some(Tok::Comma),
        '=' => Some(Tok::Assign),
        _ => None,
    }
}

fn lex_action(text: &str, line: usize) -> Result<Vec<Tok>, TemplateError> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let take_chain = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && (is_ident_char(chars[*i]) || chars[*i] == '.') {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    while i < chars.len() {
        let c = chars[i];
        if let Some(t) = one_char_token(c) {
            toks.push(t);
            i += 1;
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            ')' => {
                i += 1;
                let chain = if i < chars.len() && chars[i] == '.' {
                    take_chain(&mut i)
                } else {
                    String::new()
                };
                toks.push(Tok::Close(fields(&chain)));
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '.' => {
                let chain = take_chain(&mut i);
                toks.push(Tok::Field(fields(&chain)));
            }
            '$' => {
                i += 1;
                let chain = take_chain(&mut i);
                let mut parts = chain.splitn(2, '.');
                let name = parts.next().unwrap_or_default().to_string();
                let rest = fields(parts.next().unwrap_or_default());
                toks.push(Tok::Var(format!("${name}"), rest));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') => return Err(err(line, "unterminated quoted string")),
                        Some('"') => break,
                        Some('\\') => {
                            let e = chars.get(i + 1).copied().unwrap_or('\\');
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                toks.push(Tok::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| err(line, "unterminated raw quoted string"))?;
                toks.push(Tok::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                toks.push(Tok::Num(chars[start..i].iter().collect()));
            }
            c if is_ident_char(c) => {
                let start = i;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(err(line, format!("unexpected {other:?} in command"))),
        }
    }
    Ok(toks)
}

struct Toks {
    toks: Vec<Tok>,
    pos: usize,
    line: usize,
}

impl Toks {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn pipeline(&mut self, vars: &mut Vec<String>) -> Result<Pipeline, TemplateError> {
        let mut decl = Vec::new();
        let mut define = false;
        // `$x :=`, `$x =`, `$i, $e :=`
        let save = self.pos;
        while let Some(Tok::Var(name, f)) = self.peek().cloned() {
            if !f.is_empty() {
                break;
            }
            self.pos += 1;
            match self.peek() {
                Some(Tok::Declare) => {
                    decl.push(name);
                    define = true;
                    self.pos += 1;
                    break;
                }
                Some(Tok::Assign) => {
                    decl.push(name);
                    self.pos += 1;
                    break;
                }
                Some(Tok::Comma) => {
                    decl.push(name);
                    self.pos += 1;
                }
                _ => {
                    decl.clear();
                    self.pos = save;
                    break;
                }
            }
        }
        if define {
            vars.extend(decl.iter().cloned());
        } else if let Some(v) = decl.iter().find(|v| !vars.contains(v)) {
            return Err(err(self.line, format!("undefined variable {v:?}")));
        }
        let mut cmds = Vec::new();
        loop {
            let mut cmd = Vec::new();
            while let Some(t) = self.peek().cloned() {
                match t {
                    Tok::Pipe | Tok::Close(_) => break,
                    _ => {
                        self.pos += 1;
                        cmd.push(self.operand(t, vars)?);
                    }
                }
            }
            if cmd.is_empty() {
                return Err(err(self.line, "missing value for command"));
            }
            if cmd.len() > 1 && !matches!(cmd[0], Arg::Func(_) | Arg::Field(_) | Arg::Var(..)) {
                return Err(err(self.line, "can't give argument to non-function"));
            }
            cmds.push(cmd);
            if self.peek() == Some(&Tok::Pipe) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(Pipeline { decl, define, cmds })
    }

    fn operand(&mut self, t: Tok, vars: &mut Vec<String>) -> Result<Arg, TemplateError> {
        Ok(match t {
            Tok::Field(f) => Arg::Field(f),
            Tok::Var(name, f) => {
                if name != "$" && !vars.contains(&name) {
                    return Err(err(self.line, format!("undefined variable {name:?}")));
                }
                Arg::Var(name, f)
            }
            Tok::Str(s) => Arg::Str(s),
            Tok::Num(n) => {
                if let Ok(i) = n.parse::<i64>() {
                    Arg::Int(i)
                } else if let Ok(f) = n.parse::<f64>() {
                    Arg::Float(f)
                } else {
                    return Err(err(self.line, format!("bad number syntax: {n:?}")));
                }
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                f if FUNCTIONS.contains(&f) => Arg::Func(id),
                _ => return Err(err(self.line, format!("function {id:?} not defined"))),
            },
            Tok::Open => {
                let p = self.pipeline(vars)?;
                match self.peek().cloned() {
                    Some(Tok::Close(f)) => {
                        self.pos += 1;
                        Arg::Sub(Box::new(p), f)
                    }
                    _ => return Err(err(self.line, "unclosed left paren")),
                }
            }
            other => return Err(err(self.line, format!("unexpected {other:?} in operand"))),
        })
    }
}

enum Piece {
    Text(String),
    Action(String, usize),
}

fn split(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut line = 1;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        let after = &rest[open + 2..];
        let trim_left = after.starts_with('-') && after[1..].starts_with([' ', '\t', '\n', '\r']);
        let after = if trim_left { &after[1..] } else { after };
        if trim_left {
            text = text.trim_end();
        }
        line += text.matches('\n').count();
        pieces.push(Piece::Text(text.to_string()));
        let close = after
            .find("}}")
            .ok_or_else(|| err(line, "unclosed action"))?;
        let mut inner = &after[..close];
        let mut next = &after[close + 2..];
        if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
            inner = &inner[..inner.len() - 1];
            next = next.trim_start();
        }
        let trimmed = inner.trim();
        if !(trimmed.starts_with("/*") && trimmed.ends_with("*/")) {
            pieces.push(Piece::Action(inner.to_string(), line));
        }
        line += inner.matches('\n').count();
        rest = next;
    }
    pieces.push(Piece::Text(rest.to_string()));
    Ok(pieces)
}

enum Stop {
    Eof,
    End,
    Else(Vec<Tok>, usize),
}

fn nodes(
    pieces: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
    vars: &mut Vec<String>,
    depth: usize,
    in_range: bool,
) -> Result<(Vec<Node>, Stop), TemplateError> {
    if depth > 64 {
        return Err(err(0, "template nested too deeply"));
    }
    let mut out = Vec::new();
    while let Some(p) = pieces.next() {
        let (text, line) = match p {
            Piece::Text(t) => {
                if !t.is_empty() {
                    out.push(Node::Text(t));
                }
                continue;
            }
            Piece::Action(a, line) => (a, line),
        };
        let toks = lex_action(&text, line)?;
        let keyword = match toks.first() {
            Some(Tok::Ident(k)) => k.clone(),
            _ => String::new(),
        };
        let mut t = Toks { toks, pos: 1, line };
        match keyword.as_str() {
            "end" => return Ok((out, Stop::End)),
            "else" => return Ok((out, Stop::Else(t.toks.split_off(1), line))),
            "break" | "continue" if in_range => {
                out.push(if keyword == "break" {
                    Node::Break
                } else {
                    Node::Continue
                });
            }
            "break" | "continue" => {
                return Err(err(
                    line,
                    format!("{{{{{keyword}}}}} outside {{{{range}}}}"),
                ));
            }
            "if" | "with" | "range" => {
                let mark = vars.len();
                let pipe = t.pipeline(vars)?;
                if t.pos < t.toks.len() {
                    return Err(err(line, "unexpected token in control pipeline"));
                }
                let node = control(&keyword, pipe, pieces, vars, depth, in_range, line)?;
                vars.truncate(mark);
                out.push(node);
            }
            "define" | "template" | "block" => {
                return Err(err(
                    line,
                    format!("{{{{{keyword}}}}} is not supported in rule templates"),
                ));
            }
            _ => {
                t.pos = 0;
                let pipe = t.pipeline(vars)?;
                if t.pos < t.toks.len() {
                    return Err(err(line, "unexpected \")\" in operand"));
                }
                out.push(Node::Action(pipe));
            }
        }
    }
    Ok((out, Stop::Eof))
}

fn control(
    keyword: &str,
    pipe: Pipeline,
    pieces: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
    vars: &mut Vec<String>,
    depth: usize,
    in_range: bool,
    line: usize,
) -> Result<Node, TemplateError> {
    let body_in_range = in_range || keyword == "range";
    let (body, end) = nodes(pieces, vars, depth + 1, body_in_range)?;
    let els = match end {
        Stop::Eof => return Err(err(line, format!("unexpected EOF in {keyword}"))),
        Stop::End => Vec::new(),
        Stop::Else(rest, eline) => {
            if rest.is_empty() {
                let (els, end) = nodes(pieces, vars, depth + 1, in_range)?;
                if !matches!(end, Stop::End) {
                    return Err(err(
                        eline,
                        format!("expected end; found else or EOF in {keyword}"),
                    ));
                }
                els
            } else {
                // `else if …` / `else with …` chains into a nested node.
                let kw = match rest.first() {
                    Some(Tok::Ident(k)) if k == keyword => k.clone(),
                    _ => return Err(err(eline, "unexpected token after else")),
                };
                let mut t = Toks {
                    toks: rest,
                    pos: 1,
                    line: eline,
                };
                let mark = vars.len();
                let inner = t.pipeline(vars)?;
                let node = control(&kw, inner, pieces, vars, depth + 1, in_range, eline)?;
                vars.truncate(mark);
                vec![node]
            }
        }
    };
    Ok(match keyword {
        "if" => Node::If(pipe, body, els),
        "with" => Node::With(pipe, body, els),
        _ => Node::Range(pipe, body, els),
    })
}

/// Parses a template with `$labels`, `$value`, `$externalLabels` and
/// `$externalURL` declared, as Prometheus declares them.
pub fn parse(src: &str) -> Result<Vec<Node>, TemplateError> {
    let mut pieces = split(src)?.into_iter().peekable();
    let mut vars: Vec<String> = ["$labels", "$value", "$externalLabels", "$externalURL"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (out, end) = nodes(&mut pieces, &mut vars, 0, false)?;
    match end {
        Stop::Eof => Ok(out),
        Stop::End => Err(err(0, "unexpected {{end}}")),
        Stop::Else(..) => Err(err(0, "unexpected {{else}}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_alert_rules_write() {
        for ok in [
            "plain",
            "{{ $labels.instance }} is down",
            "{{ $value | humanize }}",
            "{{ printf \"%.2f\" $value }}",
            "{{- if gt $value 1.0 -}} high {{- else if eq $value 0.0 }} zero {{ else }} low {{ end }}",
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}",
            "{{ with query \"up\" }}{{ . | first | value }}{{ end }}",
            "{{/* a comment */}}x",
            "{{ index $labels \"a-b\" }}",
            "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
            "{{ (humanize $value) }}",
        ] {
            parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            "{{ $labels.instance ",
            "{{ nosuch $value }}",
            "{{ if true }}x",
            "{{ end }}",
            "{{ $undefined }}",
            "{{ \"unterminated }}",
            "{{ break }}",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }
}
