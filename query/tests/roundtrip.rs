//! Property: printing any well-formed tree and parsing it back yields the
//! same tree. Trees are generated typed and in the shape the parser builds
//! (parentheses wherever precedence needs them, signs folded into numbers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_query::{
    Aggregate, AggregateOp, At, Binary, BinaryOp, Call, DurationExpr, Expr, GroupSide, Grouping,
    MatrixSelector, NumberLiteral, Subquery, Unary, UnaryOp, ValueType, VectorMatching,
    VectorSelector, all_functions, parse,
};
use hourglass_storage::{MatchOp, Matcher};
use proptest::prelude::*;

const LABELS: &[&str] = &[
    "job", "le", "a.b", "sum", "by", "inf", "é", "_x1", "a:b", "on",
];
const NAMES: &[&str] = &[
    "foo",
    "my.metric",
    "sum",
    "a:b",
    ":x",
    "by",
    "Inf",
    "rate",
    "x y",
];
const REGEXES: &[&str] = &["api|web", ".*", ".+", "a\\.b", "(?i)x", "[0-9]{2}", ""];

fn label() -> impl Strategy<Value = String> {
    prop::sample::select(LABELS).prop_map(str::to_owned)
}

fn labels(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(label(), 0..=max)
}

fn ms() -> impl Strategy<Value = i64> {
    prop_oneof![1i64..=120_000, 1i64..=400 * 86_400_000]
}

/// Ranges may be zero when written as a plain `0`.
fn range_ms() -> impl Strategy<Value = i64> {
    prop_oneof![1 => Just(0i64), 8 => ms()]
}

fn at() -> impl Strategy<Value = Option<At>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(At::Start)),
        1 => Just(Some(At::End)),
        1 => (-(10i64.pow(15))..10i64.pow(15)).prop_map(|t| Some(At::Timestamp(t))),
    ]
}

fn offset() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![2 => Just(None), 1 => ms().prop_map(Some), 1 => ms().prop_map(|m| Some(-m))]
}

/// Duration expressions that depend on the query (constant ones fold to
/// milliseconds when parsed), in the shape the parser builds: signs on
/// literals folded, so a `Neg` never holds a number.
fn duration_expr() -> BoxedStrategy<DurationExpr> {
    let leaf = prop_oneof![
        Just(DurationExpr::Step),
        Just(DurationExpr::Range),
        Just(DurationExpr::Start),
        Just(DurationExpr::End),
        (0u32..100_000).prop_map(|v| DurationExpr::Number(NumberLiteral(f64::from(v) / 1000.0))),
        (0i64..10_000_000).prop_map(DurationExpr::Duration),
    ];
    let tree = leaf.prop_recursive(3, 12, 2, |inner| {
        let ops = prop::sample::select(vec![
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Mod,
            BinaryOp::Pow,
        ]);
        prop_oneof![
            (ops, inner.clone(), inner.clone()).prop_map(|(op, a, b)| DurationExpr::Binary(
                op,
                Box::new(a),
                Box::new(b)
            )),
            inner.clone().prop_map(|e| match e {
                DurationExpr::Number(n) => DurationExpr::Number(NumberLiteral(-n.0)),
                DurationExpr::Duration(ms) => DurationExpr::Duration(-ms),
                e => DurationExpr::Neg(Box::new(e)),
            }),
            (any::<bool>(), inner.clone(), inner).prop_map(|(min, a, b)| {
                let (a, b) = (Box::new(a), Box::new(b));
                if min {
                    DurationExpr::Min(a, b)
                } else {
                    DurationExpr::Max(a, b)
                }
            }),
        ]
    });
    tree.prop_map(|e| {
        if e.is_constant() {
            DurationExpr::Binary(BinaryOp::Add, Box::new(DurationExpr::Step), Box::new(e))
        } else {
            e
        }
    })
    .boxed()
}

fn offset_expr() -> impl Strategy<Value = Option<Box<DurationExpr>>> {
    prop_oneof![6 => Just(None), 1 => duration_expr().prop_map(|e| Some(Box::new(e)))]
}

fn matcher() -> impl Strategy<Value = Matcher> {
    let eq = (
        label(),
        prop_oneof![Just(MatchOp::Equal), Just(MatchOp::NotEqual)],
        "\\PC{0,6}|[\"\\\\\n\t\u{1}]{1,3}",
    )
        .prop_map(|(n, op, v)| Matcher::new(op, n, v).unwrap());
    let re = (
        label(),
        prop_oneof![Just(MatchOp::RegexMatch), Just(MatchOp::RegexNoMatch)],
        prop::sample::select(REGEXES),
    )
        .prop_map(|(n, op, v)| Matcher::new(op, n, v).unwrap());
    prop_oneof![eq, re]
}

fn selector() -> impl Strategy<Value = VectorSelector> {
    (
        prop::option::of(prop::sample::select(NAMES)),
        prop::collection::vec(matcher(), 0..3),
        offset(),
        at(),
        offset_expr(),
    )
        .prop_map(|(name, mut matchers, offset, at, offset_expr)| {
            if let Some(n) = name {
                matchers.insert(0, Matcher::new(MatchOp::Equal, "__name__", n).unwrap());
            } else if matchers.iter().all(Matcher::matches_empty) {
                matchers.push(Matcher::new(MatchOp::Equal, "job", "x").unwrap());
            }
            VectorSelector {
                name: name.map(str::to_owned),
                matchers,
                // An even positive offset also aligns, so `align` prints
                // and parses back beside every other modifier.
                align: offset.filter(|&o| o > 0 && o % 2 == 0),
                offset: if offset_expr.is_some() { None } else { offset },
                offset_expr,
                at,
                modifier: None,
            }
        })
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0u32..1000u32,
        1 => Just(u32::MAX),
    ]
    .prop_map(f64::from)
    .boxed()
    .prop_union(
        prop_oneof![
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(-0.0),
            any::<f64>().prop_filter("finite", |v| v.is_finite()),
        ]
        .boxed(),
    )
}

fn paren(e: Expr) -> Expr {
    Expr::Paren(Box::new(e))
}

fn is_negative_literal(e: &Expr) -> bool {
    matches!(e, Expr::Number(NumberLiteral(v)) if v.is_sign_negative() && !v.is_nan())
}

/// Parenthesises operands the way a user must for the tree to parse back.
fn binary(
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    return_bool: bool,
    matching: Option<VectorMatching>,
) -> Expr {
    binary_filled(op, lhs, rhs, return_bool, matching, (None, None))
}

fn binary_filled(
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    return_bool: bool,
    matching: Option<VectorMatching>,
    (fill_left, fill_right): (Option<f64>, Option<f64>),
) -> Expr {
    let prec = |e: &Expr| match e {
        Expr::Binary(b) => Some(b.op.precedence()),
        _ => None,
    };
    let lhs = match prec(&lhs) {
        Some(p) if p < op.precedence() || (p == op.precedence() && op.is_right_associative()) => {
            paren(lhs)
        }
        _ if op == BinaryOp::Pow
            && (matches!(lhs, Expr::Unary(_)) || is_negative_literal(&lhs)) =>
        {
            paren(lhs)
        }
        _ => lhs,
    };
    let rhs = match prec(&rhs) {
        Some(p) if p < op.precedence() || (p == op.precedence() && !op.is_right_associative()) => {
            paren(rhs)
        }
        _ => rhs,
    };
    Expr::Binary(Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        return_bool,
        matching,
        fill_left: fill_left.map(NumberLiteral),
        fill_right: fill_right.map(NumberLiteral),
    })
}

fn unary(op: UnaryOp, e: Expr) -> Expr {
    let e = match e {
        Expr::Number(_) => paren(e),
        Expr::Binary(ref b) if b.op != BinaryOp::Pow => paren(e),
        e => e,
    };
    Expr::Unary(Unary {
        op,
        expr: Box::new(e),
    })
}

/// A subquery's operand must be a primary to print unambiguously.
fn subquery(
    e: Expr,
    range_ms: i64,
    (step_ms, aligned): (Option<i64>, bool),
    offset: Option<i64>,
    at: Option<At>,
) -> Expr {
    let e = match e {
        Expr::Binary(_) | Expr::Unary(_) => paren(e),
        e => e,
    };
    Expr::Subquery(Subquery {
        expr: Box::new(e),
        range_ms,
        step_ms,
        aligned,
        offset,
        at,
        range_expr: None,
        step_expr: None,
        offset_expr: None,
    })
}

const OPS: [BinaryOp; 19] = {
    use BinaryOp::*;
    [
        Or, And, Unless, Eql, Neq, Lt, Le, Gt, Ge, Add, Sub, Mul, Div, Mod, Atan2, BitAnd, BitOr,
        BitXor, Pow,
    ]
};

fn matching(op: BinaryOp) -> impl Strategy<Value = Option<VectorMatching>> {
    let group = prop_oneof![
        Just(None),
        (
            prop_oneof![Just(GroupSide::Left), Just(GroupSide::Right)],
            labels(2)
        )
            .prop_map(Some),
    ];
    prop_oneof![
        2 => Just(None),
        1 => (any::<bool>(), labels(3), group).prop_map(move |(on, labels, group)| {
            let mut group = if op.is_set() { None } else { group };
            if let (true, Some((_, include))) = (on, &mut group) {
                include.retain(|l| !labels.contains(l));
            }
            (on || !labels.is_empty() || group.is_some()).then_some(VectorMatching { on, labels, group })
        }),
    ]
}

fn expr(ty: ValueType, depth: u32) -> BoxedStrategy<Expr> {
    let leaf = match ty {
        ValueType::Scalar => number()
            .prop_map(|v| Expr::Number(NumberLiteral(v)))
            .boxed(),
        ValueType::String => "\\PC{0,8}".prop_map(Expr::String).boxed(),
        ValueType::Vector => selector().prop_map(Expr::Vector).boxed(),
        ValueType::Matrix => (selector(), range_ms(), offset_expr())
            .prop_map(|(vector, range_ms, range_expr)| {
                Expr::Matrix(MatrixSelector {
                    vector,
                    range_ms: if range_expr.is_some() { 0 } else { range_ms },
                    range_expr,
                })
            })
            .boxed(),
    };
    if depth == 0 {
        return leaf;
    }
    let d = depth - 1;
    let mut options: Vec<(u32, BoxedStrategy<Expr>)> =
        vec![(3, leaf), (1, expr(ty, d).prop_map(paren).boxed())];
    options.push((2, call(ty, d)));
    match ty {
        ValueType::Scalar => {
            let non_set: Vec<BinaryOp> = OPS.into_iter().filter(|o| !o.is_set()).collect();
            options.push((
                3,
                (
                    prop::sample::select(non_set),
                    expr(ValueType::Scalar, d),
                    expr(ValueType::Scalar, d),
                )
                    .prop_map(|(op, l, r)| binary(op, l, r, op.is_comparison(), None))
                    .boxed(),
            ));
            options.push((
                1,
                (any::<bool>(), expr(ValueType::Scalar, d))
                    .prop_map(|(neg, e)| unary(if neg { UnaryOp::Neg } else { UnaryOp::Plus }, e))
                    .boxed(),
            ));
        }
        ValueType::Vector => {
            let vv = prop::sample::select(OPS.to_vec()).prop_flat_map(move |op| {
                (
                    Just(op),
                    expr(ValueType::Vector, d),
                    expr(ValueType::Vector, d),
                    any::<bool>(),
                    matching(op),
                    prop::option::of(number()),
                    prop::option::of(number()),
                )
            });
            options.push((
                3,
                vv.prop_map(|(op, l, r, b, m, fl, fr)| {
                    let fill = if op.is_set() { (None, None) } else { (fl, fr) };
                    binary_filled(op, l, r, b && op.is_comparison(), m, fill)
                })
                .boxed(),
            ));
            let non_set: Vec<BinaryOp> = OPS.into_iter().filter(|o| !o.is_set()).collect();
            options.push((
                2,
                (
                    prop::sample::select(non_set),
                    expr(ValueType::Vector, d),
                    expr(ValueType::Scalar, d),
                    any::<bool>(),
                    any::<bool>(),
                )
                    .prop_map(|(op, v, s, flip, b)| {
                        let (l, r) = if flip { (s, v) } else { (v, s) };
                        binary(op, l, r, b && op.is_comparison(), None)
                    })
                    .boxed(),
            ));
            options.push((
                1,
                (any::<bool>(), expr(ValueType::Vector, d))
                    .prop_map(|(neg, e)| unary(if neg { UnaryOp::Neg } else { UnaryOp::Plus }, e))
                    .boxed(),
            ));
            options.push((3, aggregate(d)));
        }
        ValueType::Matrix => {
            options.push((
                3,
                (
                    expr(ValueType::Vector, d),
                    ms(),
                    (prop::option::of(ms()), any::<bool>()),
                    offset(),
                    at(),
                )
                    .prop_map(|(e, r, s, o, a)| subquery(e, r, s, o, a))
                    .boxed(),
            ));
        }
        ValueType::String => {}
    }
    prop::strategy::Union::new_weighted(options).boxed()
}

fn aggregate(d: u32) -> BoxedStrategy<Expr> {
    let grouping = prop_oneof![
        Just(None),
        prop::collection::vec(label(), 1..3).prop_map(|l| Some(Grouping::By(l))),
        labels(2).prop_map(|l| Some(Grouping::Without(l))),
    ];
    (prop::sample::select(AggregateOp::ALL.to_vec()), grouping)
        .prop_flat_map(move |(op, g)| {
            let param = match op.param_type() {
                Some(t) => expr(t, d).prop_map(|p| Some(Box::new(p))).boxed(),
                None => Just(None).boxed(),
            };
            (Just(op), Just(g), param, expr(ValueType::Vector, d))
        })
        .prop_map(|(op, grouping, param, e)| {
            Expr::Aggregate(Aggregate {
                op,
                expr: Box::new(e),
                param,
                grouping,
            })
        })
        .boxed()
}

fn call(ty: ValueType, d: u32) -> BoxedStrategy<Expr> {
    let funcs: Vec<_> = all_functions().iter().filter(|f| f.returns == ty).collect();
    if funcs.is_empty() {
        return expr(ty, 0);
    }
    prop::sample::select(funcs)
        .prop_flat_map(move |f| {
            let max = f
                .max_args()
                .unwrap_or(f.min_args() + 2)
                .min(f.min_args() + 2);
            (Just(f), f.min_args()..=max)
        })
        .prop_flat_map(move |(f, n)| {
            let args: Vec<BoxedStrategy<Expr>> = (0..n)
                .map(|i| match (f.name, i) {
                    // Labels only, and empty matchers are fine here.
                    ("info", 1) => prop::collection::vec(matcher(), 0..3)
                        .prop_map(|matchers| Expr::Vector(VectorSelector::new(None, matchers)))
                        .boxed(),
                    _ => expr(f.arg_type(i).unwrap_or(ValueType::Scalar), d),
                })
                .collect();
            (Just(f), args)
        })
        .prop_map(|(func, args)| Expr::Call(Call { func, args }))
        .boxed()
}

fn any_expr() -> BoxedStrategy<Expr> {
    prop_oneof![
        4 => expr(ValueType::Vector, 3),
        2 => expr(ValueType::Scalar, 3),
        2 => expr(ValueType::Matrix, 3),
        1 => expr(ValueType::String, 1),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn printed_trees_parse_back_equal(e in any_expr()) {
        let printed = e.to_string();
        let again = parse(&printed).map_err(|err| TestCaseError::fail(format!("{printed}\n{err}")))?;
        prop_assert_eq!(&again, &e, "printed: {}", printed);
        prop_assert_eq!(again.value_type(), e.value_type());
        prop_assert_eq!(again.to_string(), printed);
    }
}

/// The new syntax, spelled by hand: each prints canonically and reads back
/// to the same tree.
#[test]
fn newest_syntax_prints_and_parses_back() {
    let cases = [
        ("rate(x[5m * 2])", "rate(x[10m])"),
        ("x offset (1h - 5m)", "x offset 55m"),
        ("x[-(10s - 5s) + 20s]", "x[15s]"),
        (
            "count_over_time(x[step() + 1ms])",
            "count_over_time(x[step() + 1ms])",
        ),
        ("x offset -step() * 2", "x offset (-step()) * 2"),
        ("x offset STEP()", "x offset step()"),
        ("x[range():step() / 5]", "x[range():step() / 5]"),
        ("x[max(step(), 1m)] ", "x[max(step(), 1m)]"),
        ("increase(x[5m] anchored)", "increase(x[5m] anchored)"),
        (
            "rate(x[5m] smoothed offset 1m)",
            "rate(x[5m] offset 1m smoothed)",
        ),
        ("x smoothed", "x smoothed"),
        ("a + fill(0) b", "a + fill(0) b"),
        (
            "a + fill_left(1) fill_right(2) b",
            "a + fill_left(1) fill_right(2) b",
        ),
        (
            "a * on(i) group_left fill_right(-1) b",
            "a * on (i) group_left () fill_right(-1) b",
        ),
        ("a == bool fill(NaN) b", "a == bool fill(NaN) b"),
        ("fill + fill(0) fill", "fill + fill(0) fill"),
        (
            "step() + range() + start() + end()",
            "step() + range() + start() + end()",
        ),
    ];
    for (query, want) in cases {
        let e = parse(query).unwrap_or_else(|err| panic!("{query}: {err}"));
        let printed = e.to_string();
        assert_eq!(printed, want, "{query}");
        assert_eq!(parse(&printed).unwrap(), e, "{query}");
    }
    for bad in [
        "a or fill(0) b",
        "1 + fill(0) a",
        "a + fill(0) fill(1) b",
        "deriv(x[5m] smoothed)",
        "max_over_time(x[5m] anchored)",
        "x anchored",
        "x[5m:1m] anchored",
        "x[5m / 0]",
        "x[1m - 2m]",
    ] {
        assert!(parse(bad).is_err(), "{bad} should not parse");
    }
}
