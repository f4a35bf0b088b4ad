//! Request parameters, read as Prometheus reads them: the URL's query
//! string and, for a form-encoded POST, the body, merged (body first), with
//! repeated names such as `match[]` all kept.

use super::envelope::ApiError;
use crate::prom_time::{MAX_TIME_MS, MIN_TIME_MS, parse_duration, parse_time};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use hourglass_query::{Expr, ParseError};
use hourglass_storage::Matcher;

/// All parameters of one request.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Params, ApiError> {
        let query = req.uri().query().map(str::to_owned);
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let body = if req.method() == Method::POST && is_form {
            Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_data(format!("cannot read the form body: {e}")))?
        } else {
            Bytes::new()
        };
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Ok(Params { pairs })
    }
}

/// A parse error in Prometheus's one-line wording: `1:5: parse error: …`.
pub fn parse_error_text(e: &ParseError) -> String {
    let (line, col) = e.line_col();
    format!("{line}:{col}: parse error: {}", e.message())
}

/// The matchers of a series selector such as `up{job="api"}`.
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>, String> {
    match hourglass_query::parse(s) {
        Ok(Expr::Vector(v)) => Ok(v.matchers),
        Ok(_) => Err(format!("{s:?} is not a series selector")),
        Err(e) => Err(parse_error_text(&e)),
    }
}

/// A parameter that is not what it must be: its name and why, for
/// endpoints with their own error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam {
    /// The parameter.
    pub name: String,
    /// What is wrong with it.
    pub why: String,
}

impl From<BadParam> for ApiError {
    fn from(b: BadParam) -> ApiError {
        ApiError::param(&b.name, b.why)
    }
}

/// Longest raw query string a streaming endpoint looks at.
pub const MAX_QUERY: usize = 16 << 10;

/// The pairs of a raw query string; over [`MAX_QUERY`] bytes is refused.
pub fn bounded_query(query: Option<&str>) -> Result<form_urlencoded::Parse<'_>, ApiError> {
    let q = query.unwrap_or_default();
    if q.len() > MAX_QUERY {
        return Err(ApiError::bad_data(format!(
            "query string is over {MAX_QUERY} bytes"
        )));
    }
    Ok(form_urlencoded::parse(q.as_bytes()))
}

impl Params {
    /// Parameters from literal pairs (tests).
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params {
            pairs: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Parameters of a form-encoded query string or body.
    pub fn from_form(data: &[u8]) -> Params {
        Params {
            pairs: form_urlencoded::parse(data).into_owned().collect(),
        }
    }

    /// The first value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter in ms, or `default` when absent.
    pub fn time_or(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => parse_time(v).map_err(|e| ApiError::param(name, e)),
        }
    }

    /// A required time parameter in ms.
    pub fn time(&self, name: &str) -> Result<i64, ApiError> {
        let v = self
            .get(name)
            .ok_or_else(|| ApiError::param(name, "cannot parse \"\" to a valid timestamp"))?;
        parse_time(v).map_err(|e| ApiError::param(name, e))
    }

    /// An optional duration parameter in ms.
    pub fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| parse_duration(v).map_err(|e| ApiError::param(name, e)))
            .transpose()
    }

    /// The required `query` parameter, parsed as PromQL.
    pub fn expr(&self) -> Result<Expr, ApiError> {
        let text = self
            .get("query")
            .ok_or_else(|| ApiError::param("query", "query is required"))?;
        hourglass_query::parse(text).map_err(|e| ApiError::param("query", parse_error_text(&e)))
    }

    /// `start` and `end` of a metadata query: the whole time range when
    /// absent; `end` before `start` is refused.
    pub fn range(&self) -> Result<(i64, i64), ApiError> {
        let start = self.time_or("start", MIN_TIME_MS)?;
        let end = self.time_or("end", MAX_TIME_MS)?;
        if end < start {
            return Err(ApiError::param(
                "end",
                "end timestamp must not be before start time",
            ));
        }
        Ok((start, end))
    }

    /// A boolean flag, spelled as Go's `strconv.ParseBool` accepts it;
    /// `false` when absent.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
            Some("false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(ApiError::param(
                name,
                format!("parsing {name}: invalid boolean {other:?}"),
            )),
        }
    }

    /// `limit`: `None` for absent or 0; negative is refused.
    pub fn limit(&self) -> Result<Option<usize>, ApiError> {
        match self.get("limit") {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(0) => Ok(None),
                Ok(n) if n > 0 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
                _ => Err(ApiError::param("limit", "limit must be a positive number")),
            },
        }
    }

    /// A whole number from `min` to `max`, if given.
    pub fn count(&self, name: &str, min: usize, max: usize) -> Result<Option<usize>, BadParam> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(BadParam {
                name: name.to_string(),
                why: format!("{name} must be a whole number from {min} to {max}, got {v:?}"),
            }),
        }
    }

    /// The page of a listing as `(offset, limit)`: from `limit`/`offset`,
    /// or from `page` (from 1) and `page_size` (`default_size` when absent);
    /// no limit when neither is given. Sizes are at most `max_size`.
    pub fn paging(
        &self,
        default_size: usize,
        max_size: usize,
    ) -> Result<(usize, Option<usize>), BadParam> {
        let by_offset = self.get("limit").is_some() || self.get("offset").is_some();
        let by_page = self.get("page").is_some() || self.get("page_size").is_some();
        if by_offset && by_page {
            return Err(BadParam {
                name: "page".to_string(),
                why: "give limit/offset or page/page_size, not both".to_string(),
            });
        }
        if by_page {
            let size = self
                .count("page_size", 1, max_size)?
                .unwrap_or(default_size);
            let page = self.count("page", 1, usize::MAX / max_size)?.unwrap_or(1);
            Ok(((page - 1) * size, Some(size)))
        } else {
            Ok((
                self.count("offset", 0, usize::MAX)?.unwrap_or(0),
                self.count("limit", 1, max_size)?,
            ))
        }
    }

    /// The selectors of every `match[]`, parsed.
    pub fn match_sets(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        self.all("match[]")
            .into_iter()
            .map(|s| parse_selector(s).map_err(|e| ApiError::param("match[]", e)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_match_is_kept_and_empty_values_ignored() {
        let p = Params::from_pairs(&[("match[]", "up"), ("match[]", "{job=\"x\"}"), ("start", "")]);
        assert_eq!(p.match_sets().unwrap().len(), 2);
        assert_eq!(p.range().unwrap(), (MIN_TIME_MS, MAX_TIME_MS));
    }

    #[test]
    fn flags_read_as_go_spells_booleans() {
        let p = Params::from_pairs(&[("a", "T"), ("b", "0"), ("c", "yes")]);
        assert!(p.flag("a").unwrap());
        assert!(!p.flag("b").unwrap());
        assert!(!p.flag("absent").unwrap());
        assert!(
            p.flag("c")
                .unwrap_err()
                .message
                .contains("invalid boolean \"yes\"")
        );
    }

    #[test]
    fn bad_parameters_say_which() {
        let p = Params::from_pairs(&[("start", "10"), ("end", "5")]);
        assert!(p.range().unwrap_err().message.contains("\"end\""));
        let p = Params::from_pairs(&[("match[]", "{job=~\".*\"}")]);
        let e = p.match_sets().unwrap_err();
        assert!(
            e.message.starts_with("invalid parameter \"match[]\""),
            "{}",
            e.message
        );
        let p = Params::from_pairs(&[("limit", "-1")]);
        assert!(p.limit().is_err());
        let p = Params::from_pairs(&[("match[]", "rate(x[5m])")]);
        assert!(p.match_sets().is_err());
    }
}
