//! The body of `POST /api/v1/metrics/custom`, streamed item by item: a JSON
//! list (or `{"metrics": [...]}`) whose items are handed over one at a
//! time, counted while decoding so a list over the limit is refused before
//! it is built, each item's tree bounded in nodes so one item cannot
//! inflate either.

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Most JSON values (objects, arrays, keys and scalars) in one item; a
/// histogram with this many buckets is far beyond any real one.
pub const MAX_ITEM_NODES: usize = 100_000;

/// Why a body is not a list of items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// Valid JSON, but neither a list nor `{"metrics": [...]}`.
    #[error("body must be a JSON list of metrics")]
    NotAList,
    /// Not JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// More items than allowed; nothing is stored.
    #[error("body has more than {0} metrics, the limit per request; nothing was stored")]
    TooManyItems(usize),
    /// The caller's `each` asked to stop.
    #[error("decoding stopped by the caller")]
    Stopped,
}

/// One item as decoded: its tree, or `None` when it has more than
/// [`MAX_ITEM_NODES`] values (it was read through without being built).
pub type ItemTree = Option<Value>;

/// Decodes `body`, calling `each(index, item)` for every item in order,
/// and returns how many there were. At most `max_items` items are
/// accepted: the one after them ends decoding with
/// [`ListError::TooManyItems`]. When `each` returns false, decoding ends
/// with [`ListError::Stopped`].
pub fn decode(
    body: &[u8],
    max_items: usize,
    each: &mut dyn FnMut(usize, ItemTree) -> bool,
) -> Result<usize, ListError> {
    let mut walk = Walk {
        max_items,
        count: 0,
        each,
        stop: None,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = de.deserialize_any(Top(&mut walk)).and_then(|()| de.end());
    if let Some(stop) = walk.stop {
        return Err(stop);
    }
    result.map_err(|e| ListError::Json(e.to_string()))?;
    Ok(walk.count)
}

struct Walk<'f> {
    max_items: usize,
    count: usize,
    each: &'f mut dyn FnMut(usize, ItemTree) -> bool,
    /// Why decoding stopped, when it was us.
    stop: Option<ListError>,
}

impl Walk<'_> {
    fn stop<E: de::Error>(&mut self, why: ListError) -> E {
        let e = E::custom(&why);
        self.stop = Some(why);
        e
    }

    fn items<'de, A: SeqAccess<'de>>(&mut self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.count == self.max_items {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(self.stop(ListError::TooManyItems(self.max_items)));
                }
                return Ok(());
            }
            let mut budget = Budget {
                left: MAX_ITEM_NODES,
                over: false,
            };
            let Some(tree) = seq.next_element_seed(Node(&mut budget))? else {
                return Ok(());
            };
            let go_on = (self.each)(self.count, (!budget.over).then_some(tree));
            self.count += 1;
            if !go_on {
                return Err(self.stop(ListError::Stopped));
            }
        }
    }
}

/// The visitor methods of a value that must be a list: a list is walked,
/// a scalar stops the walk with `NotAList`.
macro_rules! list_visitor {
    () => {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON list of metrics")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
            self.0.items(seq)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            Err(self.0.stop(ListError::NotAList))
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            Err(self.0.stop(ListError::NotAList))
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            Err(self.0.stop(ListError::NotAList))
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            Err(self.0.stop(ListError::NotAList))
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            Err(self.0.stop(ListError::NotAList))
        }

        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Err(self.0.stop(ListError::NotAList))
        }
    };
}

/// The whole body: a list, or an object with a `metrics` list.
struct Top<'w, 'f>(&'w mut Walk<'f>);

impl<'de> Visitor<'de> for Top<'_, '_> {
    list_visitor!();

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "metrics" && !found {
                found = true;
                map.next_value_seed(List(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if found {
            Ok(())
        } else {
            Err(self.0.stop(ListError::NotAList))
        }
    }
}

/// The value of `metrics`: must be a list.
struct List<'w, 'f>(&'w mut Walk<'f>);

impl<'de> DeserializeSeed<'de> for List<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for List<'_, '_> {
    list_visitor!();

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.0.stop(ListError::NotAList))
    }
}

/// Values an item may still build; past it the rest is read, not built.
struct Budget {
    left: usize,
    over: bool,
}

impl Budget {
    /// Takes one node; false once the budget is spent.
    fn spend(&mut self) -> bool {
        match self.left.checked_sub(1) {
            Some(left) if !self.over => {
                self.left = left;
                true
            }
            _ => {
                self.over = true;
                false
            }
        }
    }
}

/// One JSON value built as a [`Value`] within the budget (`Null` past it).
struct Node<'b>(&'b mut Budget);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Node<'_> {
    fn scalar(self, make: impl FnOnce() -> Value) -> Value {
        if self.0.spend() { make() } else { Value::Null }
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(self.scalar(|| Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(self.scalar(|| Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(self.scalar(|| Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(self.scalar(|| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(self.scalar(|| Value::String(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(self.scalar(|| Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(self.scalar(|| Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(self.scalar(|| Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let budget = self.0;
        let building = budget.spend();
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Node(&mut *budget))? {
            if building && !budget.over {
                out.push(v);
            }
        }
        Ok(if budget.over {
            Value::Null
        } else {
            Value::Array(out)
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let budget = self.0;
        let building = budget.spend();
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Node(&mut *budget))? {
            let value = map.next_value_seed(Node(&mut *budget))?;
            if let (true, false, Value::String(key)) = (building, budget.over, key) {
                out.insert(key, value);
            }
        }
        Ok(if budget.over {
            Value::Null
        } else {
            Value::Object(out)
        })
    }
}

/// Decodes arbitrary bytes as a custom-metrics body and every item as a
/// metric: never panics, never builds more items than the limit, and
/// counts every item it hands over. For the `custom_metrics_json` fuzz
/// target and a unit test.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    const MAX: usize = 64;
    let mut seen = 0;
    let mut each = |index: usize, tree: ItemTree| {
        assert_eq!(index, seen, "items come in order");
        seen += 1;
        if let Some(v) = tree {
            let _ = super::custom_model::decode(&v, 0);
        }
        true
    };
    match decode(data, MAX, &mut each) {
        Ok(n) => assert!(n == seen && n <= MAX),
        Err(ListError::TooManyItems(max)) => assert_eq!(seen, max),
        Err(_) => assert!(seen <= MAX),
    }
    // What serde_json reads as a list decodes to the same item count.
    if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(data) {
        let n = items.len();
        let got = decode(data, usize::MAX, &mut |_, _| true);
        assert_eq!(got, Ok(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(body: &str, max: usize) -> Result<Vec<ItemTree>, ListError> {
        let mut out = Vec::new();
        decode(body.as_bytes(), max, &mut |_, t| {
            out.push(t);
            true
        })?;
        Ok(out)
    }

    #[test]
    fn lists_and_wrapped_lists() {
        let one = Some(serde_json::json!({"a": [1, "x", null]}));
        assert_eq!(items(r#"[{"a":[1,"x",null]}]"#, 5), Ok(vec![one.clone()]));
        assert_eq!(
            items(r#"{"x":{"y":1},"metrics":[{"a":[1,"x",null]}]}"#, 5),
            Ok(vec![one])
        );
        for bad in ["{}", r#"{"metrics":{}}"#, "1", r#""s""#, "null", "true"] {
            assert_eq!(items(bad, 5), Err(ListError::NotAList), "{bad}");
        }
        assert!(matches!(items("[1,", 5), Err(ListError::Json(_))));
        assert!(matches!(items("[1] x", 5), Err(ListError::Json(_))));
    }

    #[test]
    fn counts_before_building() {
        assert_eq!(items("[1,2,3]", 3).map(|v| v.len()), Ok(3));
        assert_eq!(items("[1,2,3,4]", 3), Err(ListError::TooManyItems(3)));
        assert_eq!(items("[1,2,3]", 0), Err(ListError::TooManyItems(0)));
        let mut seen = 0;
        let stop_at_two = &mut |_, _| {
            seen += 1;
            seen < 2
        };
        assert_eq!(decode(b"[1,2,3]", 5, stop_at_two), Err(ListError::Stopped));
        assert_eq!(seen, 2);
    }

    /// Random and mutated bodies through the fuzz target's body, so CI
    /// exercises it without cargo-fuzz.
    #[test]
    fn fuzz_body_on_mutated_inputs() {
        let seed: &[u8] = br#"{"metrics":[{"name":"m","metric_type":"HISTOGRAM","buckets":{"1":1,"+Inf":2},"sum":3},{"name":"g","metric_type":"GAUGE","value":"NaN","labels":{"a":"b"}},[0,[1,{}]]]}"#;
        let mut m = crate::mutate::Mutator::new(0x2545_f491_4f6c_dd1d);
        let alphabet = b"[]{}\",:0123456789-.eE ntrufalsNI";
        for _ in 0..3000 {
            fuzz_one(&m.mutate(seed, alphabet));
        }
    }

    #[test]
    fn an_item_over_the_node_budget_is_read_not_built() {
        let big = format!("[[{}0],{{\"k\":1}}]", "0,".repeat(MAX_ITEM_NODES));
        let got = items(&big, 5).unwrap();
        assert_eq!(got, vec![None, Some(serde_json::json!({"k": 1}))]);
    }
}
