//! Tenant scopes: which Azure resources the links of a namespace may read (the APIM
//! source) and write (the API Center target). The controller's operator sets them, not
//! the link's author, so a team cannot point a link at a catalogue that is not theirs even
//! when the controller's own identity could reach it. Pure: parsing and the decision.
//!
//! The configuration is a YAML (or JSON) list of entries:
//!
//! ```yaml
//! - namespaces: [team-a, "team-b-*"]
//!   source: ["/subscriptions/s1/*"]
//!   target: ["/subscriptions/s1/resourceGroups/rg-catalog/providers/Microsoft.ApiCenter/services/catalog"]
//! ```
//!
//! No entries: no restriction. With entries, a link is allowed when one entry names its
//! namespace and allows both its source and its target; a namespace no entry names may
//! use nothing. ARM ids match case-insensitively, segment by segment: `*` within a
//! segment matches any characters of that segment (`rg-team-*`, `*`), and a pattern ending
//! in `/*` matches everything below its prefix. Namespace patterns are globs (`team-*`).

use std::fmt;

use apilink_core::star_glob;
use serde::Deserialize;

/// Stalled reason of a link outside its namespace's tenant scope.
pub const SCOPE_NOT_ALLOWED: &str = "ScopeNotAllowed";

/// A configuration that cannot be used; the controller refuses to start with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("not a YAML or JSON list of {{namespaces, source, target}} entries: {0}")]
    Syntax(String),
    #[error("entry {entry}: {field} is empty; list at least one pattern")]
    Empty { entry: usize, field: &'static str },
    #[error("entry {entry}: {field} pattern {pattern:?}: {problem}")]
    Pattern {
        entry: usize,
        field: &'static str,
        pattern: String,
        problem: &'static str,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    namespaces: Vec<String>,
    source: Vec<String>,
    target: Vec<String>,
}

/// A namespace glob such as `team-*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NamespacePattern(String);

impl NamespacePattern {
    fn matches(&self, namespace: &str) -> bool {
        star_glob::matches(&self.0, namespace)
    }
}

/// An ARM id pattern, lower-cased and split into segments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IdPattern {
    /// As the operator wrote it, for messages.
    text: String,
    segments: Vec<String>,
    /// Ends in `/*`: everything below `segments` matches.
    below: bool,
}

impl IdPattern {
    fn parse(text: &str) -> Result<Self, &'static str> {
        let trimmed = text.trim();
        if trimmed == "*" || trimmed == "/*" {
            return Ok(Self {
                text: trimmed.to_string(),
                segments: Vec::new(),
                below: true,
            });
        }
        let Some(rest) = trimmed.strip_prefix('/') else {
            return Err("must be an ARM id starting with / (or * for any)");
        };
        let mut segments: Vec<String> = rest
            .trim_end_matches('/')
            .split('/')
            .map(str::to_ascii_lowercase)
            .collect();
        if segments.iter().any(String::is_empty) {
            return Err("has an empty segment (//)");
        }
        if segments.iter().any(|s| s.contains("**")) {
            return Err("** is not supported; a trailing /* already matches everything below");
        }
        let below = segments.last().is_some_and(|s| s == "*");
        if below {
            segments.pop();
        }
        Ok(Self {
            text: trimmed.to_string(),
            segments,
            below,
        })
    }

    fn matches(&self, id: &str) -> bool {
        let id = id.trim().trim_end_matches('/').to_ascii_lowercase();
        let Some(rest) = id.strip_prefix('/') else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let fits = if self.below {
            parts.len() > self.segments.len()
        } else {
            parts.len() == self.segments.len()
        };
        fits && self
            .segments
            .iter()
            .zip(&parts)
            .all(|(pattern, part)| star_glob::matches(pattern, part))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    namespaces: Vec<NamespacePattern>,
    source: Vec<IdPattern>,
    target: Vec<IdPattern>,
}

impl Entry {
    fn names(&self, namespace: &str) -> bool {
        self.namespaces.iter().any(|p| p.matches(namespace))
    }
}

fn any_matches(patterns: &[IdPattern], id: &str) -> bool {
    patterns.iter().any(|p| p.matches(id))
}

/// The controller's tenant scopes; the default restricts nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantScopes {
    entries: Vec<Entry>,
}

/// Whether a link may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// For the `ScopeNotAllowed` condition: the id(s) refused and the allowed patterns.
    Denied {
        message: String,
    },
}

impl TenantScopes {
    /// No restriction: every link may read and write what its identity may.
    pub fn unrestricted() -> Self {
        Self::default()
    }

    pub fn is_unrestricted(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries configured (0: unrestricted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads the configuration (see the module documentation). Blank text is
    /// unrestricted, like an empty list.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        if text.trim().is_empty() {
            return Ok(Self::unrestricted());
        }
        let raw: Option<Vec<RawEntry>> =
            serde_yaml::from_str(text).map_err(|e| ScopeError::Syntax(e.to_string()))?;
        let mut entries = Vec::new();
        for (index, raw) in raw.unwrap_or_default().into_iter().enumerate() {
            let entry = index + 1;
            let ids = |field: &'static str, list: Vec<String>| {
                if list.is_empty() {
                    return Err(ScopeError::Empty { entry, field });
                }
                list.into_iter()
                    .map(|pattern| {
                        IdPattern::parse(&pattern).map_err(|problem| ScopeError::Pattern {
                            entry,
                            field,
                            pattern,
                            problem,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            if raw.namespaces.is_empty() {
                return Err(ScopeError::Empty {
                    entry,
                    field: "namespaces",
                });
            }
            let mut namespaces = Vec::new();
            for pattern in raw.namespaces {
                let valid = !pattern.is_empty()
                    && pattern.bytes().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || b"-*".contains(&c)
                    });
                if !valid {
                    return Err(ScopeError::Pattern {
                        entry,
                        field: "namespaces",
                        pattern,
                        problem: "must be a namespace name, * allowed (lower-case letters, digits, -)",
                    });
                }
                namespaces.push(NamespacePattern(pattern));
            }
            entries.push(Entry {
                namespaces,
                source: ids("source", raw.source)?,
                target: ids("target", raw.target)?,
            });
        }
        Ok(Self { entries })
    }

    /// Whether a link in `namespace` may read APIM `source` and write API Center `target`.
    pub fn check(&self, namespace: &str, source: &str, target: &str) -> Decision {
        if self.entries.is_empty() {
            return Decision::Allowed;
        }
        let mine: Vec<&Entry> = self.entries.iter().filter(|e| e.names(namespace)).collect();
        if mine.is_empty() {
            let listed = patterns(self.entries.iter().flat_map(|e| &e.namespaces), |p| &p.0);
            return Decision::Denied {
                message: format!(
                    "namespace {namespace} has no tenant scope, so its links may not read or write Azure; the controller's tenant scopes name namespaces {listed}. Nothing was read or written"
                ),
            };
        }
        if mine
            .iter()
            .any(|e| any_matches(&e.source, source) && any_matches(&e.target, target))
        {
            return Decision::Allowed;
        }
        let sources = patterns(mine.iter().flat_map(|e| &e.source), |p| &p.text);
        let targets = patterns(mine.iter().flat_map(|e| &e.target), |p| &p.text);
        let source_ok = mine.iter().any(|e| any_matches(&e.source, source));
        let target_ok = mine.iter().any(|e| any_matches(&e.target, target));
        let what = match (source_ok, target_ok) {
            (false, false) => format!(
                "spec.source.apimResourceId {source} and spec.target.apiCenterResourceId {target} are outside the tenant scope of namespace {namespace}: allowed sources {sources}, allowed targets {targets}"
            ),
            (false, true) => format!(
                "spec.source.apimResourceId {source} is outside the tenant scope of namespace {namespace}: allowed sources {sources}"
            ),
            (true, false) => format!(
                "spec.target.apiCenterResourceId {target} is outside the tenant scope of namespace {namespace}: allowed targets {targets}"
            ),
            (true, true) => {
                let pairs: Vec<String> = mine
                    .iter()
                    .map(|e| {
                        format!(
                            "{} -> {}",
                            patterns(&e.source, |p| &p.text),
                            patterns(&e.target, |p| &p.text)
                        )
                    })
                    .collect();
                format!(
                    "no tenant scope entry of namespace {namespace} allows spec.source.apimResourceId {source} together with spec.target.apiCenterResourceId {target}; its entries allow (source -> target) {}",
                    pairs.join(", ")
                )
            }
        };
        Decision::Denied {
            message: format!("{what}. Nothing was read or written"),
        }
    }
}

/// `[a, b]` of the distinct patterns, in configuration order.
fn patterns<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    text: impl Fn(&'a T) -> &'a str,
) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        let t = text(item);
        if !seen.contains(&t) {
            seen.push(t);
        }
    }
    format!("[{}]", seen.join(", "))
}

impl fmt::Display for TenantScopes {
    /// One line for the start-up log: entries and their namespace patterns.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("unrestricted");
        }
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|e| {
                format!(
                    "{}: source {} target {}",
                    patterns(&e.namespaces, |p| &p.0),
                    patterns(&e.source, |p| &p.text),
                    patterns(&e.target, |p| &p.text)
                )
            })
            .collect();
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APIM_S1: &str =
        "/subscriptions/s1/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/apim-a";
    const APIM_S2: &str =
        "/subscriptions/s2/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/apim-b";
    const CATALOG: &str = "/subscriptions/s1/resourceGroups/rg-catalog/providers/Microsoft.ApiCenter/services/catalog";
    const OTHER_CATALOG: &str =
        "/subscriptions/s1/resourceGroups/rg-catalog/providers/Microsoft.ApiCenter/services/prod";

    fn scopes(yaml: &str) -> TenantScopes {
        TenantScopes::parse(yaml).unwrap()
    }

    fn denied(decision: Decision) -> String {
        match decision {
            Decision::Denied { message } => message,
            Decision::Allowed => panic!("expected a denial"),
        }
    }

    const TEAM_A: &str = r#"
- namespaces: [team-a]
  source: ["/subscriptions/s1/*"]
  target: ["/subscriptions/s1/resourceGroups/rg-catalog/providers/Microsoft.ApiCenter/services/catalog"]
"#;

    #[test]
    fn nothing_configured_restricts_nothing() {
        for text in ["", "  \n", "[]", "~"] {
            let s = scopes(text);
            assert!(s.is_unrestricted(), "{text:?}");
            assert_eq!(s.check("any", APIM_S2, OTHER_CATALOG), Decision::Allowed);
        }
        assert_eq!(TenantScopes::default().to_string(), "unrestricted");
    }

    #[test]
    fn a_link_inside_its_scope_is_allowed_case_insensitively() {
        let s = scopes(TEAM_A);
        assert_eq!(s.check("team-a", APIM_S1, CATALOG), Decision::Allowed);
        assert_eq!(
            s.check(
                "team-a",
                &APIM_S1.to_uppercase(),
                &CATALOG.to_ascii_lowercase()
            ),
            Decision::Allowed,
            "ARM ids are case-insensitive"
        );
        assert_eq!(
            s.check("team-a", APIM_S1, &format!("{CATALOG}/")),
            Decision::Allowed
        );
    }

    #[test]
    fn the_message_names_the_refused_id_and_the_allowed_patterns() {
        let s = scopes(TEAM_A);
        let message = denied(s.check("team-a", APIM_S1, OTHER_CATALOG));
        assert!(message.contains(OTHER_CATALOG), "{message}");
        assert!(
            message.contains("spec.target.apiCenterResourceId"),
            "{message}"
        );
        assert!(
            message.contains(&format!("allowed targets [{CATALOG}]")),
            "{message}"
        );
        assert!(!message.contains("allowed sources"), "{message}");

        let message = denied(s.check("team-a", APIM_S2, CATALOG));
        assert!(
            message.contains(APIM_S2) && message.contains("allowed sources [/subscriptions/s1/*]"),
            "{message}"
        );

        let message = denied(s.check("team-a", APIM_S2, OTHER_CATALOG));
        assert!(
            message.contains(APIM_S2) && message.contains(OTHER_CATALOG),
            "{message}"
        );
    }

    #[test]
    fn a_namespace_no_entry_names_may_use_nothing() {
        let s = scopes(TEAM_A);
        let message = denied(s.check("team-b", APIM_S1, CATALOG));
        assert!(
            message.contains("namespace team-b has no tenant scope")
                && message.contains("[team-a]"),
            "{message}"
        );
    }

    #[test]
    fn source_and_target_must_come_from_the_same_entry() {
        let s = scopes(
            r#"
- namespaces: [team-a]
  source: ["/subscriptions/s1/*"]
  target: ["/subscriptions/s1/resourceGroups/rg-catalog/providers/Microsoft.ApiCenter/services/catalog"]
- namespaces: ["team-*"]
  source: ["/subscriptions/s2/*"]
  target: ["/subscriptions/s1/resourceGroups/rg-catalog/providers/Microsoft.ApiCenter/services/prod"]
"#,
        );
        assert_eq!(s.check("team-a", APIM_S1, CATALOG), Decision::Allowed);
        assert_eq!(s.check("team-a", APIM_S2, OTHER_CATALOG), Decision::Allowed);
        assert_eq!(s.check("team-z", APIM_S2, OTHER_CATALOG), Decision::Allowed);
        let message = denied(s.check("team-a", APIM_S1, OTHER_CATALOG));
        assert!(
            message.contains("no tenant scope entry of namespace team-a allows"),
            "{message}"
        );
        assert!(message.contains("[/subscriptions/s2/*] -> ["), "{message}");
        // team-z is named by the glob only: the first entry does not apply.
        let message = denied(s.check("team-z", APIM_S1, CATALOG));
        assert!(
            message.contains("allowed sources [/subscriptions/s2/*]"),
            "{message}"
        );
    }

    #[test]
    fn id_patterns_match_segment_by_segment() {
        let p = |t: &str| IdPattern::parse(t).unwrap();
        let rg = p("/subscriptions/s1/resourceGroups/rg-team-*/*");
        assert!(rg.matches(APIM_S1.replace("rg-apim", "rg-team-x").as_str()));
        assert!(!rg.matches(APIM_S1), "rg-apim is not rg-team-*");
        assert!(
            !rg.matches("/subscriptions/s1/resourceGroups/rg-team-x"),
            "/* needs something below"
        );
        // `*` inside a segment never crosses a `/`.
        let any_sub = p("/subscriptions/*/resourceGroups/rg-catalog/*");
        assert!(any_sub.matches(CATALOG));
        assert!(!any_sub.matches("/subscriptions/s1/x/resourceGroups/rg-catalog/y"));
        // Without a trailing /*, the whole id must match.
        let exact = p(CATALOG);
        assert!(exact.matches(CATALOG));
        assert!(!exact.matches(&format!("{CATALOG}/workspaces/default")));
        assert!(!exact.matches(OTHER_CATALOG));
        // A prefix is not a pattern: s1 does not cover s10.
        let sub = p("/subscriptions/s1/*");
        assert!(!sub.matches(&APIM_S1.replace("/s1/", "/s10/")));
        assert!(p("*").matches(APIM_S2) && p("/*").matches(CATALOG));
        assert!(!p("*").matches("not-an-id"));
    }

    #[test]
    fn globs() {
        assert!(star_glob::matches("team-*", "team-a"));
        assert!(star_glob::matches("team-*", "team-"));
        assert!(!star_glob::matches("team-*", "team"));
        assert!(star_glob::matches("*-prod", "payments-prod"));
        assert!(star_glob::matches("a*b*c", "axxbyyc"));
        assert!(!star_glob::matches("a*b*c", "axxbyy"));
        assert!(star_glob::matches("*", ""));
        assert!(!star_glob::matches("abc", "abcd"));
    }

    #[test]
    fn bad_configurations_are_refused_with_the_place() {
        let err = |text: &str| TenantScopes::parse(text).unwrap_err();
        assert!(matches!(err("{a: 1}"), ScopeError::Syntax(_)));
        assert!(matches!(
            err("- {namespaces: [a], source: [\"*\"]}"),
            ScopeError::Syntax(_)
        ));
        assert!(matches!(
            err("- {namespaces: [a], source: [\"*\"], target: [\"*\"], extra: 1}"),
            ScopeError::Syntax(_)
        ));
        assert_eq!(
            err("- {namespaces: [a], source: [\"*\"], target: []}"),
            ScopeError::Empty {
                entry: 1,
                field: "target"
            }
        );
        assert_eq!(
            err("- {namespaces: [], source: [\"*\"], target: [\"*\"]}"),
            ScopeError::Empty {
                entry: 1,
                field: "namespaces"
            }
        );
        let e = err(
            "- {namespaces: [a], source: [\"*\"], target: [\"*\"]}\n- {namespaces: [b], source: [subscriptions/s1], target: [\"*\"]}",
        );
        assert!(
            matches!(
                &e,
                ScopeError::Pattern {
                    entry: 2,
                    field: "source",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("entry 2: source pattern \"subscriptions/s1\"")
        );
        assert!(matches!(
            err("- {namespaces: [a], source: [\"/subscriptions//x\"], target: [\"*\"]}"),
            ScopeError::Pattern { .. }
        ));
        assert!(matches!(
            err("- {namespaces: [a], source: [\"/subscriptions/**\"], target: [\"*\"]}"),
            ScopeError::Pattern { .. }
        ));
        assert!(matches!(
            err("- {namespaces: [Team_A], source: [\"*\"], target: [\"*\"]}"),
            ScopeError::Pattern {
                field: "namespaces",
                ..
            }
        ));
    }

    #[test]
    fn json_is_accepted_too() {
        let s = scopes(
            r#"[{"namespaces":["team-a"],"source":["/subscriptions/s1/*"],"target":["/subscriptions/s1/*"]}]"#,
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s.check("team-a", APIM_S1, CATALOG), Decision::Allowed);
        assert_eq!(
            s.to_string(),
            "[team-a]: source [/subscriptions/s1/*] target [/subscriptions/s1/*]"
        );
    }
}
