use super::line::{FieldValue, Line, parse};
use super::*;

#[track_caller]
fn line(s: &str) -> Line<'_> {
    let mut l = Line::default();
    parse(s, &mut l).unwrap();
    l
}

#[track_caller]
fn bad(s: &str, needle: &str) {
    let mut l = Line::default();
    let e = parse(s, &mut l).unwrap_err();
    assert!(e.contains(needle), "{s:?}: {e:?} lacks {needle:?}");
}

#[test]
fn escapes_types_and_timestamps() {
    let l =
        line(r#"my\ m\,x,t\=k=v\ 1\,2,u=a\b f=1.5,i=-3i,u=7u,b=TRUE,s="a \"q\" \\ b, c=d" -12"#);
    assert_eq!(l.measurement, "my m,x");
    assert_eq!(l.tags[0].0, "t=k");
    assert_eq!(l.tags[0].1, "v 1,2");
    assert_eq!(
        l.tags[1].1, "a\\b",
        "a backslash before another character is itself"
    );
    assert_eq!(
        l.fields.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        vec![
            FieldValue::Float(1.5),
            FieldValue::Int(-3),
            FieldValue::UInt(7),
            FieldValue::Bool(true),
            FieldValue::Str(r#"a "q" \ b, c=d"#.into()),
        ]
    );
    assert_eq!(l.timestamp, Some(-12));
    assert_eq!(line("m f=1e3").fields[0].1, FieldValue::Float(1000.0));
    assert_eq!(line("m  f=t   5").timestamp, Some(5));
}

#[test]
fn bad_lines_say_why() {
    bad("m", "missing fields");
    bad("m,t=1", "missing fields");
    bad("m f=", "missing value");
    bad("m f", "missing fields");
    bad("m f g=1", "missing '='");
    bad("m,t f=1", "tag \"t\" has no value");
    bad("m,t= f=1", "empty tag key or value");
    bad("m f=\"x", "unterminated string");
    bad("m f=1 \\", "invalid timestamp");
    bad("m\\", "bad escape");
    bad("m f=NaN", "invalid value");
    bad("m f=inf", "invalid value");
    bad("m f=1.5i", "invalid integer");
    bad("m f=-1u", "invalid unsigned");
    bad("m f=1 12x", "invalid timestamp");
    bad("m f=1x2 3", "invalid value");
}

#[test]
fn fields_become_named_series_with_tags_and_db() {
    let body = b"cpu.load,host=a,1st=x user=1,sys=2i,on=f,name=\"x\" 1500000000\n";
    let opts = Options {
        db_label: Some(("db", "tele")),
        precision: Precision::Nanoseconds,
        now_ms: 0,
        max_series: 100,
    };
    let mut arena = SeriesArena::default();
    let r = decode(body, &opts, &mut arena, &mut |_| true);
    assert_eq!(
        (r.lines, r.fields, r.strings_skipped, r.bad_lines),
        (1, 3, 1, 0)
    );
    let got = arena.to_vec();
    let names: Vec<_> = got
        .iter()
        .map(|(l, s)| (l[0].1.clone(), s.t, s.v))
        .collect();
    assert_eq!(
        names,
        vec![
            ("cpu_load_user".to_string(), 1500, 1.0),
            ("cpu_load_sys".to_string(), 1500, 2.0),
            ("cpu_load_on".to_string(), 1500, 0.0),
        ]
    );
    for (labels, _) in &got {
        assert_eq!(
            labels[1..],
            [
                ("host".to_string(), "a".to_string()),
                ("_1st".to_string(), "x".to_string()),
                ("db".to_string(), "tele".to_string())
            ]
        );
    }
    // A tag named like the database label keeps its own value.
    let mut arena = SeriesArena::default();
    decode(b"m,db=mine f=1 0", &opts, &mut arena, &mut |_| true);
    assert_eq!(
        arena.to_vec()[0].0[1],
        ("db".to_string(), "mine".to_string())
    );
    // Over the series limit: nothing more is read.
    let opts = Options {
        max_series: 2,
        ..opts
    };
    let mut arena = SeriesArena::default();
    assert!(decode(b"m a=1,b=2,c=3 0", &opts, &mut arena, &mut |_| true).too_many_series);
}

#[test]
fn precisions_convert_to_milliseconds() {
    assert_eq!(Precision::Nanoseconds.to_ms(-1), Some(-1), "rounded down");
    assert_eq!(Precision::Microseconds.to_ms(1_999), Some(1));
    assert_eq!(Precision::Hours.to_ms(2), Some(7_200_000));
    assert_eq!(Precision::Seconds.to_ms(i64::MAX), None);
    assert_eq!(Precision::from_v1("u"), Some(Precision::Microseconds));
    assert_eq!(Precision::from_v2("m"), None);
}

#[test]
fn expansion_is_bounded_and_charged() {
    let opts = Options {
        db_label: None,
        precision: Precision::Seconds,
        now_ms: 0,
        max_series: 1_000_000,
    };
    // 300 tags × 300 fields on one line: refused by number, not built.
    let tags: String = (0..300).map(|i| format!(",t{i}=v")).collect();
    let fields: Vec<String> = (0..300).map(|i| format!("f{i}=1")).collect();
    let body = format!("m{tags} {} 1\nm ok=1 1\n", fields.join(","));
    let mut arena = SeriesArena::default();
    let r = decode(body.as_bytes(), &opts, &mut arena, &mut |_| true);
    assert_eq!(r.bad_lines, 1, "{r:?}");
    assert!(r.errors[0].reason.contains("expand to more than"), "{r:?}");
    assert_eq!(r.fields, 1);
    // A charge that says no stops reading.
    let mut arena = SeriesArena::default();
    let r = decode(b"m a=1 1\nm b=2 1\n", &opts, &mut arena, &mut |_| false);
    assert!(r.over_budget);
    assert_eq!(r.lines, 1);
}
