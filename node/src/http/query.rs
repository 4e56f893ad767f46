//! The one query-string parser of every HTTP service: `application/x-www-form-urlencoded`
//! pairs in order, `+` as a space, percent-decoded (invalid UTF-8 becomes U+FFFD, as in
//! browsers' form decoding; paths, which name handles, are decoded strictly elsewhere).

use percent_encoding::percent_decode_str;

/// The parsed query string, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Parses the query part of a URI (without the `?`).
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(k), form_decode(v))
            })
            .collect();
        Self(pairs)
    }

    /// Every value of a parameter, in order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the query has no parameters.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every parameter, in order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first value of a parameter, possibly empty.
    pub(crate) fn first<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// The first non-empty value of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A numeric parameter.
    pub(crate) fn number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// A boolean parameter: present without a value, `true` or `yes` (any case) is true.
    pub(crate) fn flag(&self, name: &str) -> Option<bool> {
        self.first(name).map(|v| {
            v.is_empty() || v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("yes")
        })
    }

    /// Java `Boolean.parseBoolean`: only `true` (any case) is true.
    pub(crate) fn java_bool(&self, name: &str) -> Option<bool> {
        self.first(name).map(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn form_decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_flags_and_numbers() {
        let q = Query::parse(Some(
            "handle=88.118.8%2Fx&limit=5&empty=&index=1&index=4&pretty&overwrite=TRUE&x=a+b%2Fc",
        ));
        assert_eq!(q.get("handle"), Some("88.118.8/x"));
        assert_eq!(q.number::<usize>("limit"), Some(5));
        assert_eq!(q.get("empty"), None);
        assert_eq!(q.first("empty"), Some(""));
        assert_eq!(q.all("index").collect::<Vec<_>>(), ["1", "4"]);
        assert_eq!(q.flag("pretty"), Some(true));
        assert_eq!(q.java_bool("overwrite"), Some(true));
        assert_eq!(q.first("x"), Some("a b/c"));
        assert_eq!(q.first("missing"), None);
    }
}
