//! The template model: a versioned list of items, its JSON form, its consistency checks, the
//! index-1001 link from a record to its template, and version evolution.

use idnode_proto::HandleValue;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::constraint::{Constraint, ConstraintError};
use crate::validators::{self, CodeError};

/// The index of the value that links a record to its template (reference design §3: index 1001
/// is reserved for the template and is never writable as business data).
pub const TEMPLATE_INDEX: u32 = 1001;

/// The value type of the index-1001 link. Its data is `name@version` in UTF-8, for example
/// `hazchem.product@1` ([`Template::link`]).
pub const TEMPLATE_TYPE: &str = "TEMPLATE";

/// The lowest index a template item may use; lower indexes belong to the Handle system
/// (`HS_ADMIN` at 100, …) and to the template link at 1001.
pub const FIRST_ITEM_INDEX: u32 = 2000;

/// The most items a template may have.
pub const MAX_ITEMS: usize = 512;

/// The longest `idType`, in bytes (SNMS limit for attribute types).
pub const MAX_ID_TYPE_LEN: usize = 128;

/// The longest template name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// The longest item name or description, in characters.
const MAX_ITEM_NAME_CHARS: usize = 128;

/// The longest template description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 4096;

/// A metadata template (元数据模板): the items that records of one kind carry.
///
/// A template is identified by `name` and `version`; a version, once published, never changes
/// ([`evolve`] makes the next one). Records name theirs in the value at [`TEMPLATE_INDEX`].
///
/// JSON form (REST API), with unknown fields rejected:
///
/// ```json
/// {"name": "hazchem.product", "version": 1, "industryCode": "C2614",
///  "prefix": "88.118.8", "description": "…",
///  "items": [{"name": "CAS号", "idType": "casNo", "idIndex": 2001, "required": true,
///             "enabled": true, "indexed": true, "constraint": {"type": "cas"}}]}
/// ```
///
/// `prefix` and `description` may be left out; `enabled` defaults to `true` and `indexed` to
/// `false`. Deserialising does not check consistency: use [`Template::from_json`], or call
/// [`Template::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// The template's name: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, such as
    /// `hazchem.enterprise`.
    pub name: String,
    /// The version, from 1; immutable once published.
    pub version: u32,
    /// The GB/T 4754-2017 four-level industry class (小类) the template serves, such as `C2614`.
    /// SNMS splits it into `industryCategory` `C`, `industrySpecific` `26`, `industryTrade`
    /// `261` and `industrySubclass` `2614` ([`Template::industry_levels`]).
    pub industry_code: String,
    /// The prefix that owns the template, such as `88.118.8`; `None` for the node's built-in
    /// templates, which every prefix may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Free text describing the template.
    #[serde(default)]
    pub description: String,
    /// The items, in any order; indexes and `idType`s are unique.
    pub items: Vec<Item>,
}

/// One item of a template: a named, typed value at a fixed index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Item {
    /// The display name, in Chinese (`CAS号`).
    pub name: String,
    /// The English identifier, which is also the handle value's type (`casNo`): 1 to 128 ASCII
    /// letters, digits, `_`, `.` or `-`, starting with a letter, and not starting with `HS_`.
    pub id_type: String,
    /// The handle value index, at least [`FIRST_ITEM_INDEX`].
    #[serde(rename = "idIndex")]
    pub index: u32,
    /// Whether every record must carry the item (while it is enabled).
    pub required: bool,
    /// Whether records may carry the item. A disabled item stays in the template, because
    /// items are never removed, but a record that writes it is rejected.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Whether the node's search index covers the item (CAS numbers, UN numbers, names, USCC).
    #[serde(default)]
    pub indexed: bool,
    /// What the value's text must look like.
    pub constraint: Constraint,
}

/// The serde default of [`Item::enabled`].
fn default_true() -> bool {
    true
}

/// Why a template is not consistent; found by [`Template::check`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The JSON text is not a template.
    #[error("not a template: {0}")]
    Json(String),
    /// The name is empty, too long or has characters outside `A-Za-z0-9._-`.
    #[error("the template name must be 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    Name,
    /// The version is 0.
    #[error("template versions start at 1")]
    Version,
    /// The industry code is not a four-level GB/T 4754-2017 class.
    #[error("industry code: {0}")]
    IndustryCode(CodeError),
    /// The prefix is not dot-separated digits of at most 64 characters.
    #[error("the prefix must be dot-separated digits such as 88.118.8, at most 64 characters")]
    Prefix,
    /// The description is longer than 4096 characters.
    #[error("the description is longer than 4096 characters")]
    Description,
    /// The template has no items or more than [`MAX_ITEMS`].
    #[error("a template has 1 to 512 items")]
    ItemCount,
    /// An item's index is below [`FIRST_ITEM_INDEX`].
    #[error("item {index}: indexes below 2000 are reserved")]
    ReservedIndex {
        /// The offending index.
        index: u32,
    },
    /// Two items share an index.
    #[error("item {index}: the index is used twice")]
    DuplicateIndex {
        /// The repeated index.
        index: u32,
    },
    /// Two items share an `idType`.
    #[error("item {index}: idType {id_type} is used twice")]
    DuplicateIdType {
        /// The second item's index.
        index: u32,
        /// The repeated type.
        id_type: String,
    },
    /// An item's `idType` is malformed or reserved.
    #[error(
        "item {index}: idType must be 1 to 128 of A-Z a-z 0-9 _ . -, start with a letter and not start with HS_"
    )]
    IdType {
        /// The item's index.
        index: u32,
    },
    /// An item's name is empty or longer than 128 characters.
    #[error("item {index}: the name must be 1 to 128 characters")]
    ItemName {
        /// The item's index.
        index: u32,
    },
    /// An item's constraint is not usable.
    #[error("item {index}: {error}")]
    Constraint {
        /// The item's index.
        index: u32,
        /// What is wrong with the constraint.
        error: ConstraintError,
    },
}

impl Template {
    /// Parses the JSON form and checks the result with [`Template::check`].
    pub fn from_json(text: &str) -> Result<Self, TemplateError> {
        let template: Self =
            serde_json::from_str(text).map_err(|e| TemplateError::Json(e.to_string()))?;
        template.check()?;
        Ok(template)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        // A template holds only strings, integers, booleans, optional numbers (serde_json
        // writes non-finite ones as null) and patterns that serialise as strings, so
        // serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks that the template is consistent: a valid name, version ≥ 1, a four-level industry
    /// class, a well-formed prefix, 1 to [`MAX_ITEMS`] items with indexes ≥ 2000, unique
    /// indexes and `idType`s, valid names and usable constraints.
    pub fn check(&self) -> Result<(), TemplateError> {
        let name_ok = (1..=MAX_NAME_LEN).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(TemplateError::Name);
        }
        if self.version == 0 {
            return Err(TemplateError::Version);
        }
        validators::industry_class(&self.industry_code).map_err(TemplateError::IndustryCode)?;
        if let Some(prefix) = &self.prefix {
            let prefix_ok = prefix.len() <= 64
                && prefix
                    .split('.')
                    .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()));
            if !prefix_ok {
                return Err(TemplateError::Prefix);
            }
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(TemplateError::Description);
        }
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            return Err(TemplateError::ItemCount);
        }
        for (i, item) in self.items.iter().enumerate() {
            let index = item.index;
            if index < FIRST_ITEM_INDEX {
                return Err(TemplateError::ReservedIndex { index });
            }
            if self.items[..i].iter().any(|other| other.index == index) {
                return Err(TemplateError::DuplicateIndex { index });
            }
            if self.items[..i]
                .iter()
                .any(|other| other.id_type == item.id_type)
            {
                return Err(TemplateError::DuplicateIdType {
                    index,
                    id_type: item.id_type.clone(),
                });
            }
            if !id_type_ok(&item.id_type) {
                return Err(TemplateError::IdType { index });
            }
            if item.name.is_empty() || item.name.chars().count() > MAX_ITEM_NAME_CHARS {
                return Err(TemplateError::ItemName { index });
            }
            item.constraint
                .check_definition()
                .map_err(|error| TemplateError::Constraint { index, error })?;
        }
        Ok(())
    }

    /// The item at `index`, if any.
    pub fn item(&self, index: u32) -> Option<&Item> {
        self.items.iter().find(|item| item.index == index)
    }

    /// The item whose `idType` is `id_type`, if any.
    pub fn item_by_type(&self, id_type: &str) -> Option<&Item> {
        self.items.iter().find(|item| item.id_type == id_type)
    }

    /// The data of this template's link value: `name@version`.
    pub fn link(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The value at [`TEMPLATE_INDEX`] that links a record to this template, with default TTL
    /// and permissions. The REST layer adds it to every record it registers (clients may not
    /// write index 1001 themselves).
    pub fn link_value(&self) -> HandleValue {
        HandleValue::new(TEMPLATE_INDEX, TEMPLATE_TYPE, self.link())
    }

    /// The SNMS split of the industry class: 门类, 大类, 中类 and 小类 (`C`, `26`, `261`,
    /// `2614`), or `None` if the code is not a four-level class.
    pub fn industry_levels(&self) -> Option<[&str; 4]> {
        let code = &self.industry_code;
        validators::industry_class(code).ok()?;
        Some([&code[..1], &code[1..3], &code[1..4], &code[1..5]])
    }
}

/// Splits the data of a link value, `name@version`, at its last `@`. Returns `None` unless the
/// version is a canonical decimal `u32` (no sign, no leading zero).
pub fn parse_link(data: &str) -> Option<(&str, u32)> {
    let (name, version) = data.rsplit_once('@')?;
    if version.is_empty()
        || (version.len() > 1 && version.starts_with('0'))
        || !version.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((name, version.parse().ok()?))
}

/// Whether an `idType` is well formed and not reserved.
fn id_type_ok(id_type: &str) -> bool {
    let bytes = id_type.as_bytes();
    (1..=MAX_ID_TYPE_LEN).contains(&bytes.len())
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !bytes[..bytes.len().min(3)].eq_ignore_ascii_case(b"HS_")
        && !id_type.eq_ignore_ascii_case(TEMPLATE_TYPE)
}

/// Why a new template version is not an allowed successor of the old one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvolveError {
    /// The new version is not consistent on its own.
    #[error("the new version is not a valid template: {0}")]
    Invalid(TemplateError),
    /// The name differs.
    #[error("the template name cannot change ({old} -> {new})")]
    Renamed {
        /// The old name.
        old: String,
        /// The new name.
        new: String,
    },
    /// The owning prefix differs.
    #[error("the owning prefix cannot change")]
    PrefixChanged,
    /// The new version number is neither the old one nor the next one.
    #[error("version {new} cannot follow version {old}: give {old} or {next}", next = u64::from(*old) + 1)]
    Version {
        /// The old version.
        old: u32,
        /// The version given.
        new: u32,
    },
    /// The old version is the last possible one.
    #[error("version {0} is the last possible version")]
    VersionOverflow(u32),
    /// An item of the old version is missing.
    #[error("item {index} ({id_type}) was removed; items can only be disabled")]
    ItemRemoved {
        /// The item's index.
        index: u32,
        /// The item's type.
        id_type: String,
    },
    /// An item kept its index but changed its `idType`.
    #[error("item {index}: idType cannot change ({old} -> {new})")]
    IdTypeChanged {
        /// The item's index.
        index: u32,
        /// The old type.
        old: String,
        /// The new type.
        new: String,
    },
    /// An item's constraint rejects values that the old one accepted.
    #[error("item {index} ({id_type}): the new constraint rejects values the old one accepted")]
    ConstraintNarrowed {
        /// The item's index.
        index: u32,
        /// The item's type.
        id_type: String,
    },
    /// An optional item became required.
    #[error("item {index} ({id_type}): an optional item cannot become required")]
    MadeRequired {
        /// The item's index.
        index: u32,
        /// The item's type.
        id_type: String,
    },
}

/// Makes the version after `old` from `new`, checking that the change is allowed.
///
/// Template versions are immutable (SNMS v5: updates are incremental, items are never removed,
/// only disabled), so a new version may:
/// * add items, with new indexes and new `idType`s, required or not;
/// * disable items (`enabled: false`) or enable them again;
/// * rename an item's display name, change `indexed`, the description and the industry class;
/// * make a required item optional, and widen a constraint ([`Constraint::is_widened_by`]):
///   looser bounds, a dropped pattern, more enum values, `Url` or `HandleRef` to `FileRef`.
///
/// It may not change the template name or prefix, remove an item, change an item's `idType`,
/// make an optional item required, or narrow a constraint, since records written under the old
/// version would then fail when moved to the new one.
///
/// `new.version` must be `old.version` (the usual case: the client edited the template it read)
/// or `old.version + 1`; the result always carries `old.version + 1`.
pub fn evolve(old: &Template, new: &Template) -> Result<Template, EvolveError> {
    let next = old
        .version
        .checked_add(1)
        .ok_or(EvolveError::VersionOverflow(old.version))?;
    if new.version != old.version && new.version != next {
        return Err(EvolveError::Version {
            old: old.version,
            new: new.version,
        });
    }
    if new.name != old.name {
        return Err(EvolveError::Renamed {
            old: old.name.clone(),
            new: new.name.clone(),
        });
    }
    if new.prefix != old.prefix {
        return Err(EvolveError::PrefixChanged);
    }
    let mut evolved = new.clone();
    evolved.version = next;
    evolved.check().map_err(EvolveError::Invalid)?;
    for old_item in &old.items {
        let index = old_item.index;
        let Some(new_item) = new.item(index) else {
            return Err(EvolveError::ItemRemoved {
                index,
                id_type: old_item.id_type.clone(),
            });
        };
        if new_item.id_type != old_item.id_type {
            return Err(EvolveError::IdTypeChanged {
                index,
                old: old_item.id_type.clone(),
                new: new_item.id_type.clone(),
            });
        }
        if new_item.required && !old_item.required {
            return Err(EvolveError::MadeRequired {
                index,
                id_type: old_item.id_type.clone(),
            });
        }
        if !old_item.constraint.is_widened_by(&new_item.constraint) {
            return Err(EvolveError::ConstraintNarrowed {
                index,
                id_type: old_item.id_type.clone(),
            });
        }
    }
    Ok(evolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change made to a copy of the test template.
    type Change = fn(&mut Template);

    fn item(index: u32, id_type: &str, constraint: Constraint) -> Item {
        Item {
            name: format!("项目{index}"),
            id_type: id_type.into(),
            index,
            required: false,
            enabled: true,
            indexed: false,
            constraint,
        }
    }

    fn template() -> Template {
        Template {
            name: "test.product".into(),
            version: 1,
            industry_code: "C2614".into(),
            prefix: Some("88.118.8".into()),
            description: "测试".into(),
            items: vec![
                Item {
                    required: true,
                    ..item(
                        2000,
                        "productName",
                        Constraint::String {
                            min_length: Some(1),
                            max_length: Some(255),
                            pattern: None,
                        },
                    )
                },
                item(2001, "casNo", Constraint::Cas),
                item(
                    2002,
                    "unit",
                    Constraint::Enum {
                        values: vec!["kg".into(), "t".into()],
                    },
                ),
            ],
        }
    }

    #[test]
    fn json_form_round_trips() {
        let t = template();
        let json = t.to_json();
        assert!(json.starts_with(
            r#"{"name":"test.product","version":1,"industryCode":"C2614","prefix":"88.118.8""#
        ));
        assert!(json.contains(
            r#"{"name":"项目2001","idType":"casNo","idIndex":2001,"required":false,"enabled":true,"indexed":false,"constraint":{"type":"cas"}}"#
        ));
        assert_eq!(Template::from_json(&json), Ok(t));
    }

    #[test]
    fn json_defaults_and_unknown_fields() {
        let t = Template::from_json(
            r#"{"name":"x","version":1,"industryCode":"G5942","items":[
                {"name":"名称","idType":"name","idIndex":2000,"required":true,
                 "constraint":{"type":"string"}}]}"#,
        )
        .unwrap();
        assert_eq!(t.prefix, None);
        assert_eq!(t.description, "");
        assert!(t.items[0].enabled);
        assert!(!t.items[0].indexed);
        let unknown = r#"{"name":"x","version":1,"industryCode":"G5942","items":[],"extra":1}"#;
        assert!(matches!(
            Template::from_json(unknown),
            Err(TemplateError::Json(_))
        ));
    }

    #[test]
    fn consistency_checks() {
        let cases: Vec<(Change, TemplateError)> = vec![
            (|t| t.name = "a@b".into(), TemplateError::Name),
            (|t| t.name = String::new(), TemplateError::Name),
            (|t| t.version = 0, TemplateError::Version),
            (
                |t| t.industry_code = "C26".into(),
                TemplateError::IndustryCode(CodeError::Format(
                    "expected a four-level GB/T 4754-2017 class: a letter and 4 digits",
                )),
            ),
            (|t| t.prefix = Some("88..8".into()), TemplateError::Prefix),
            (|t| t.prefix = Some("88.x".into()), TemplateError::Prefix),
            (
                |t| t.description = "字".repeat(4097),
                TemplateError::Description,
            ),
            (|t| t.items.clear(), TemplateError::ItemCount),
            (
                |t| t.items[1].index = 1001,
                TemplateError::ReservedIndex { index: 1001 },
            ),
            (
                |t| t.items[1].index = 2000,
                TemplateError::DuplicateIndex { index: 2000 },
            ),
            (
                |t| t.items[2].id_type = "casNo".into(),
                TemplateError::DuplicateIdType {
                    index: 2002,
                    id_type: "casNo".into(),
                },
            ),
            (
                |t| t.items[1].id_type = "HS_ADMIN".into(),
                TemplateError::IdType { index: 2001 },
            ),
            (
                |t| t.items[1].id_type = "template".into(),
                TemplateError::IdType { index: 2001 },
            ),
            (
                |t| t.items[1].id_type = "2cas".into(),
                TemplateError::IdType { index: 2001 },
            ),
            (
                |t| t.items[1].id_type = "cas no".into(),
                TemplateError::IdType { index: 2001 },
            ),
            (
                |t| t.items[1].name = String::new(),
                TemplateError::ItemName { index: 2001 },
            ),
            (
                |t| t.items[2].constraint = Constraint::Enum { values: vec![] },
                TemplateError::Constraint {
                    index: 2002,
                    error: ConstraintError::EnumValues,
                },
            ),
        ];
        assert_eq!(template().check(), Ok(()));
        for (change, expected) in cases {
            let mut t = template();
            change(&mut t);
            assert_eq!(t.check(), Err(expected.clone()), "{expected}");
            assert!(Template::from_json(&t.to_json()).is_err(), "{expected}");
        }
    }

    #[test]
    fn link_value() {
        let t = template();
        let v = t.link_value();
        assert_eq!(v.index, TEMPLATE_INDEX);
        assert_eq!(v.value_type, "TEMPLATE");
        assert_eq!(v.data, b"test.product@1");
        assert_eq!(parse_link("test.product@1"), Some(("test.product", 1)));
        assert_eq!(parse_link("a@b@12"), Some(("a@b", 12)));
        for bad in [
            "test.product",
            "x@",
            "x@01",
            "x@-1",
            "x@+1",
            "x@4294967296",
            "x@1.0",
        ] {
            assert_eq!(parse_link(bad), None, "{bad}");
        }
        assert_eq!(t.industry_levels(), Some(["C", "26", "261", "2614"]));
    }

    #[test]
    fn evolve_adds_and_disables_items() {
        let old = template();
        let mut new = template();
        new.items[1].enabled = false;
        new.items[0].required = false;
        new.items[0].name = "品名".into();
        new.items[0].indexed = true;
        new.items.push(Item {
            required: true,
            ..item(2003, "unNo", Constraint::UnNumber)
        });
        if let Constraint::Enum { values } = &mut new.items[2].constraint {
            values.push("L".into());
        }
        let evolved = evolve(&old, &new).unwrap();
        assert_eq!(evolved.version, 2);
        assert_eq!(evolved.items.len(), 4);
        // Giving the next version explicitly is the same.
        new.version = 2;
        assert_eq!(evolve(&old, &new), Ok(evolved.clone()));
        // And the result can evolve again.
        assert_eq!(evolve(&evolved, &evolved).map(|t| t.version), Ok(3));
    }

    #[test]
    fn evolve_rejects_incompatible_changes() {
        let old = template();
        let cases: Vec<(Change, EvolveError)> = vec![
            (|t| t.version = 3, EvolveError::Version { old: 1, new: 3 }),
            (
                |t| t.name = "other".into(),
                EvolveError::Renamed {
                    old: "test.product".into(),
                    new: "other".into(),
                },
            ),
            (|t| t.prefix = None, EvolveError::PrefixChanged),
            (
                |t| {
                    t.items.remove(1);
                },
                EvolveError::ItemRemoved {
                    index: 2001,
                    id_type: "casNo".into(),
                },
            ),
            (
                |t| t.items[1].id_type = "cas".into(),
                EvolveError::IdTypeChanged {
                    index: 2001,
                    old: "casNo".into(),
                    new: "cas".into(),
                },
            ),
            (
                |t| t.items[1].required = true,
                EvolveError::MadeRequired {
                    index: 2001,
                    id_type: "casNo".into(),
                },
            ),
            (
                |t| t.items[1].constraint = Constraint::Uscc,
                EvolveError::ConstraintNarrowed {
                    index: 2001,
                    id_type: "casNo".into(),
                },
            ),
            (
                |t| {
                    t.items[2].constraint = Constraint::Enum {
                        values: vec!["kg".into()],
                    }
                },
                EvolveError::ConstraintNarrowed {
                    index: 2002,
                    id_type: "unit".into(),
                },
            ),
            (
                |t| t.items[1].index = 2500,
                EvolveError::ItemRemoved {
                    index: 2001,
                    id_type: "casNo".into(),
                },
            ),
            (
                |t| t.items[1].index = 1500,
                EvolveError::Invalid(TemplateError::ReservedIndex { index: 1500 }),
            ),
        ];
        for (change, expected) in cases {
            let mut new = template();
            change(&mut new);
            assert_eq!(evolve(&old, &new), Err(expected.clone()), "{expected}");
        }
        let mut last = template();
        last.version = u32::MAX;
        assert_eq!(
            evolve(&last, &last),
            Err(EvolveError::VersionOverflow(u32::MAX))
        );
    }
}
