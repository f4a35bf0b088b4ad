//! `/api/v1/parse_query`: the AST as JSON, in the shape the Prometheus UI's
//! query explainer reads.

use super::envelope::{ApiResult, success};
use super::params::Params;
use hourglass_query::prom_text::plain_float;
use hourglass_query::{
    At, BinaryOp, Expr, GroupSide, Grouping, UnaryOp, ValueType, VectorSelector,
};
use hourglass_storage::Matcher;
use serde_json::{Value, json};

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::Vector => "vector",
        ValueType::Matrix => "matrix",
        ValueType::String => "string",
    }
}

fn matchers(ms: &[Matcher]) -> Value {
    Value::Array(
        ms.iter()
            .map(|m| json!({ "name": m.name(), "value": m.value(), "type": m.op().as_str() }))
            .collect(),
    )
}

/// `timestamp` (ms, for `@ <t>`) and `startOrEnd` of an `@` modifier.
fn at(a: Option<At>) -> (Value, Value) {
    match a {
        None => (Value::Null, Value::Null),
        Some(At::Timestamp(t)) => (json!(t), Value::Null),
        Some(At::Start) => (Value::Null, json!("start")),
        Some(At::End) => (Value::Null, json!("end")),
    }
}

fn selector(v: &VectorSelector) -> (Value, Value, Value, Value, Value) {
    let (ts, soe) = at(v.at);
    (
        json!(v.name.clone().unwrap_or_default()),
        json!(v.offset.unwrap_or(0)),
        matchers(&v.matchers),
        ts,
        soe,
    )
}

/// Translates an expression into Prometheus's JSON AST.
pub fn translate(e: &Expr) -> Value {
    match e {
        Expr::Number(n) => json!({ "type": "numberLiteral", "val": plain_float(n.0) }),
        Expr::String(s) => json!({ "type": "stringLiteral", "val": s }),
        Expr::Paren(inner) => json!({ "type": "parenExpr", "expr": translate(inner) }),
        Expr::Unary(u) => json!({
            "type": "unaryExpr",
            "op": match u.op { UnaryOp::Neg => "-", UnaryOp::Plus => "+" },
            "expr": translate(&u.expr),
        }),
        Expr::Vector(v) => {
            let (name, offset, ms, ts, soe) = selector(v);
            json!({ "type": "vectorSelector", "name": name, "offset": offset, "matchers": ms,
                    "timestamp": ts, "startOrEnd": soe })
        }
        Expr::Matrix(m) => {
            let (name, offset, ms, ts, soe) = selector(&m.vector);
            json!({ "type": "matrixSelector", "name": name, "range": m.range_ms, "offset": offset,
                    "matchers": ms, "timestamp": ts, "startOrEnd": soe })
        }
        Expr::Subquery(s) => {
            let (ts, soe) = at(s.at);
            json!({ "type": "subquery", "expr": translate(&s.expr), "range": s.range_ms,
                    "offset": s.offset.unwrap_or(0), "step": s.step_ms.unwrap_or(0),
                    "timestamp": ts, "startOrEnd": soe })
        }
        Expr::Binary(b) => {
            let vectors =
                b.lhs.value_type() == ValueType::Vector && b.rhs.value_type() == ValueType::Vector;
            let matching = if !vectors {
                Value::Null
            } else {
                let (on, labels) = b
                    .matching
                    .as_ref()
                    .map_or((false, Vec::new()), |m| (m.on, m.labels.clone()));
                let (card, include) = match b.matching.as_ref().and_then(|m| m.group.clone()) {
                    _ if matches!(b.op, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless) => {
                        ("many-to-many", Vec::new())
                    }
                    Some((GroupSide::Left, l)) => ("many-to-one", l),
                    Some((GroupSide::Right, l)) => ("one-to-many", l),
                    None => ("one-to-one", Vec::new()),
                };
                json!({ "card": card, "labels": labels, "on": on, "include": include })
            };
            json!({ "type": "binaryExpr", "op": b.op.as_str(), "lhs": translate(&b.lhs),
                    "rhs": translate(&b.rhs), "matching": matching, "bool": b.return_bool })
        }
        Expr::Aggregate(a) => {
            let (grouping, without) = match &a.grouping {
                None => (Vec::new(), false),
                Some(Grouping::By(l)) => (l.clone(), false),
                Some(Grouping::Without(l)) => (l.clone(), true),
            };
            json!({ "type": "aggregation", "op": a.op.as_str(), "expr": translate(&a.expr),
                    "param": a.param.as_deref().map_or(Value::Null, translate),
                    "grouping": grouping, "without": without })
        }
        Expr::Call(c) => json!({
            "type": "call",
            "func": {
                "name": c.func.name,
                "argTypes": c.func.args.iter().map(|t| type_name(*t)).collect::<Vec<_>>(),
                "variadic": c.func.variadic,
                "returnType": type_name(c.func.returns),
            },
            "args": c.args.iter().map(translate).collect::<Vec<_>>(),
        }),
    }
}

/// `GET|POST /api/v1/parse_query?query=…`.
pub async fn parse_query(params: Params) -> ApiResult {
    Ok(success(translate(&params.expr()?), &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ast(q: &str) -> Value {
        translate(&hourglass_query::parse(q).unwrap())
    }

    #[test]
    fn shapes_match_prometheus() {
        let v = ast("sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m] offset 1m))");
        assert_eq!(v["type"], "aggregation");
        assert_eq!(v["op"], "sum");
        assert_eq!(v["grouping"], json!(["job"]));
        assert_eq!(v["without"], false);
        let call = &v["expr"];
        assert_eq!(call["type"], "call");
        assert_eq!(call["func"]["name"], "rate");
        assert_eq!(call["func"]["argTypes"], json!(["matrix"]));
        assert_eq!(call["func"]["returnType"], "vector");
        let m = &call["args"][0];
        assert_eq!(m["type"], "matrixSelector");
        assert_eq!(m["range"], 300_000);
        assert_eq!(m["offset"], 60_000);
        assert_eq!(m["name"], "http_requests_total");
        assert!(
            m["matchers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["type"] == "=~" && x["value"] == "5..")
        );

        let b = ast("a * on (x) group_left (y) b");
        assert_eq!(
            b["matching"],
            json!({"card": "many-to-one", "labels": ["x"], "on": true, "include": ["y"]})
        );
        assert_eq!(ast("1 + 2")["matching"], Value::Null);
        assert_eq!(ast("a and b")["matching"]["card"], "many-to-many");
        assert_eq!(ast("up @ end()")["startOrEnd"], "end");
        assert_eq!(ast("-Inf")["val"], "-Inf");
        let sq = ast("max_over_time(up[1h:5m])");
        assert_eq!(sq["args"][0]["type"], "subquery");
        assert_eq!(sq["args"][0]["step"], 300_000);
    }
}
