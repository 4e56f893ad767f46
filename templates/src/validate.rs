//! Validation of a record's values against its template.

use std::fmt;

use idnode_proto::{Handle, HandleValue};
use thiserror::Error;

use crate::date::Date;
use crate::template::{FIRST_ITEM_INDEX, TEMPLATE_INDEX, TEMPLATE_TYPE, Template};

/// Answers whether a handle exists, for [`crate::Constraint::HandleRef`] and
/// [`crate::Constraint::FileRef`] values.
///
/// The node implements it over its store (and, for handles of other prefixes, over resolution);
/// tests implement it with a closure. Any `Fn(&Handle) -> Result<bool, LookupError>` is one.
pub trait HandleExists {
    /// Whether `handle` exists. An error means the answer is unknown; the value is then
    /// rejected with the error in the rule, so that nothing unchecked is stored.
    fn exists(&self, handle: &Handle) -> Result<bool, LookupError>;
}

impl<F> HandleExists for F
where
    F: Fn(&Handle) -> Result<bool, LookupError>,
{
    fn exists(&self, handle: &Handle) -> Result<bool, LookupError> {
        self(handle)
    }
}

/// A lookup that could not answer, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("handle lookup failed: {0}")]
pub struct LookupError(pub String);

/// One broken rule of a record: which item, and what is wrong.
///
/// Its `Display` form is `{item name} ({idType}, index {index}): {rule}`, for example
/// `CAS号 (casNo, index 2001): check digit does not match`. For a value that no item defines, the
/// name is empty and the form is `({type}, index {index}): {rule}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The item's Chinese name; empty when no item defines the index.
    pub item_name: String,
    /// The item's `idType`, or the value's type when no item defines the index.
    pub id_type: String,
    /// The value index.
    pub index: u32,
    /// The rule that failed, in English.
    pub rule: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.item_name.is_empty() {
            write!(f, "{} ", self.item_name)?;
        }
        write!(f, "({}, index {}): {}", self.id_type, self.index, self.rule)
    }
}

/// The longest value type quoted in a violation, in characters.
const MAX_QUOTED_TYPE: usize = 64;

/// Checks the values of a record against `template`, returning every broken rule (sorted by
/// index) or nothing.
///
/// The rules:
/// * Index 1001 must hold exactly one value of type `TEMPLATE` whose data is this template's
///   `name@version` ([`Template::link`]). The REST layer adds it ([`Template::link_value`]);
///   clients may not write index 1001 themselves.
/// * Every value at an index ≥ 2000 must belong to an item of the template, have the item's
///   `idType` as its type (compared exactly), be UTF-8, and satisfy the item's constraint; an
///   index may appear only once.
/// * Values of disabled items are rejected, not ignored: the writer learns that the item is gone
///   instead of losing data silently.
/// * Every enabled, required item must be present. An optional item is left out when it has no
///   value; an empty string is a value and must satisfy the constraint.
/// * Values at indexes below 2000 other than 1001 (`HS_ADMIN`, `URL`, `HS_VLIST`, …) are not
///   the template's business and are left alone.
///
/// `lookup` answers for handle references; `today` bounds dates marked `notAfterToday`.
pub fn validate(
    template: &Template,
    values: &[HandleValue],
    lookup: &dyn HandleExists,
    today: Date,
) -> Result<(), Vec<Violation>> {
    let mut violations = Vec::new();
    let template_violation = |rule: String| Violation {
        item_name: "模板".to_owned(),
        id_type: TEMPLATE_TYPE.to_owned(),
        index: TEMPLATE_INDEX,
        rule,
    };

    let links: Vec<&HandleValue> = values
        .iter()
        .filter(|v| v.index == TEMPLATE_INDEX)
        .collect();
    match links.as_slice() {
        [] => violations.push(template_violation(format!(
            "missing: index 1001 must hold TEMPLATE = {}",
            template.link()
        ))),
        [link] => {
            if !link.has_type(TEMPLATE_TYPE) {
                violations.push(template_violation(format!(
                    "the value type must be TEMPLATE, not {}",
                    quote_type(&link.value_type)
                )));
            } else if link.data != template.link().as_bytes() {
                violations.push(template_violation(format!(
                    "must name this template and version, {}, not {}",
                    template.link(),
                    String::from_utf8_lossy(&link.data)
                        .chars()
                        .take(MAX_QUOTED_TYPE + 12)
                        .collect::<String>()
                )));
            }
        }
        _ => violations.push(template_violation(
            "the index appears more than once".to_owned(),
        )),
    }

    for (i, value) in values.iter().enumerate() {
        if value.index < FIRST_ITEM_INDEX {
            continue;
        }
        let Some(item) = template.item(value.index) else {
            violations.push(Violation {
                item_name: String::new(),
                id_type: quote_type(&value.value_type),
                index: value.index,
                rule: format!("no item of template {} has this index", template.link()),
            });
            continue;
        };
        let violation = |rule: String| Violation {
            item_name: item.name.clone(),
            id_type: item.id_type.clone(),
            index: item.index,
            rule,
        };
        if values[..i].iter().any(|other| other.index == value.index) {
            violations.push(violation("the index appears more than once".to_owned()));
            continue;
        }
        if !item.enabled {
            violations.push(violation(format!(
                "the item is disabled in version {} of the template and must not be written",
                template.version
            )));
            continue;
        }
        if value.value_type != item.id_type {
            violations.push(violation(format!(
                "the value type must be {}, not {}",
                item.id_type,
                quote_type(&value.value_type)
            )));
            continue;
        }
        let Ok(text) = std::str::from_utf8(&value.data) else {
            violations.push(violation("the value is not UTF-8 text".to_owned()));
            continue;
        };
        if let Err(rule) = item.constraint.check(text, lookup, today) {
            violations.push(violation(rule));
        }
    }

    for item in &template.items {
        if item.required && item.enabled && !values.iter().any(|v| v.index == item.index) {
            violations.push(Violation {
                item_name: item.name.clone(),
                id_type: item.id_type.clone(),
                index: item.index,
                rule: "required item is missing".to_owned(),
            });
        }
    }

    if violations.is_empty() {
        Ok(())
    } else {
        violations.sort_by_key(|v| v.index);
        Err(violations)
    }
}

/// A value type as quoted in a message: at most 64 characters, control characters replaced.
fn quote_type(value_type: &str) -> String {
    value_type
        .chars()
        .take(MAX_QUOTED_TYPE)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraint::{Constraint, Pattern};
    use crate::template::Item;

    fn today() -> Date {
        Date::new(2024, 6, 1).unwrap()
    }

    fn exists(handle: &Handle) -> Result<bool, LookupError> {
        Ok(handle.as_str().starts_with("88.118.8/E."))
    }

    fn item(index: u32, name: &str, id_type: &str, constraint: Constraint) -> Item {
        Item {
            name: name.into(),
            id_type: id_type.into(),
            index,
            required: false,
            enabled: true,
            indexed: false,
            constraint,
        }
    }

    /// A template with one item of every constraint kind.
    fn template() -> Template {
        let items = vec![
            Item {
                required: true,
                ..item(
                    2000,
                    "名称",
                    "name",
                    Constraint::String {
                        min_length: Some(1),
                        max_length: Some(8),
                        pattern: Some(Pattern::new(r"[^\d]+").unwrap()),
                    },
                )
            },
            item(
                2001,
                "数量",
                "qty",
                Constraint::Number {
                    min: Some(0.0),
                    max: Some(100.0),
                    integer: true,
                },
            ),
            item(
                2002,
                "生产日期",
                "productionDate",
                Constraint::Date {
                    not_after_today: true,
                },
            ),
            item(
                2003,
                "单位",
                "unit",
                Constraint::Enum {
                    values: vec!["kg".into(), "t".into()],
                },
            ),
            item(2004, "生产企业", "producer", Constraint::HandleRef),
            item(2005, "网址", "homepage", Constraint::Url),
            item(2006, "安全技术说明书", "sds", Constraint::FileRef),
            item(2007, "CAS号", "CAS", Constraint::Cas),
            item(2008, "统一社会信用代码", "uscc", Constraint::Uscc),
            item(2009, "UN号", "unNo", Constraint::UnNumber),
            item(2010, "危规号", "cnDgNo", Constraint::DangerousGoodsNo),
            item(2011, "行政区划代码", "regionCode", Constraint::Region),
            item(2012, "行业代码", "industryCode", Constraint::IndustryCode),
            item(2013, "危险说明", "hazards", Constraint::GhsHazards),
            item(2014, "包装类别", "packingGroup", Constraint::PackingGroup),
            item(2015, "车牌号", "plate", Constraint::Plate),
            item(2016, "电子运单号", "waybillNo", Constraint::WaybillNo),
            item(
                2017,
                "关联批次",
                "batches",
                Constraint::List {
                    of: Box::new(Constraint::HandleRef),
                    min_items: Some(1),
                    max_items: Some(3),
                },
            ),
            Item {
                enabled: false,
                required: true,
                ..item(
                    2018,
                    "旧字段",
                    "legacy",
                    Constraint::String {
                        min_length: None,
                        max_length: None,
                        pattern: None,
                    },
                )
            },
        ];
        let template = Template {
            name: "test.all".into(),
            version: 3,
            industry_code: "C2614".into(),
            prefix: None,
            description: String::new(),
            items,
        };
        template.check().unwrap();
        template
    }

    /// A record that satisfies every item of [`template`].
    fn good_values(t: &Template) -> Vec<HandleValue> {
        let mut values = vec![
            HandleValue::new(100, "HS_ADMIN", vec![0u8; 3]),
            HandleValue::new(1, "URL", "https://example.com/"),
            t.link_value(),
        ];
        let data = [
            (2000, "丙酮"),
            (2001, "42"),
            (2002, "2024-06-01"),
            (2003, "kg"),
            (2004, "88.118.8/E.91350100M000100Y43"),
            (2005, "https://example.com/"),
            (2006, "88.118.8/E.sds-1"),
            (2007, "67-64-1"),
            (2008, "91350100M000100Y43"),
            (2009, "UN1090"),
            (2010, "31025"),
            (2011, "350100"),
            (2012, "C2614"),
            (2013, r#"["H225","H319","H336"]"#),
            (2014, "II"),
            (2015, "闽A1234挂"),
            (2016, "350100202406010001"),
            (2017, r#"["88.118.8/E.b1","88.118.8/E.b2"]"#),
        ];
        for (index, text) in data {
            let id_type = t.item(index).unwrap().id_type.clone();
            values.push(HandleValue::new(index, id_type, text));
        }
        values
    }

    /// Replaces the data at `index` and returns the single violation, as text.
    fn violation_for(index: u32, text: &str) -> String {
        let t = template();
        let mut values = good_values(&t);
        let value = values.iter_mut().find(|v| v.index == index).unwrap();
        value.data = text.as_bytes().to_vec();
        let violations = validate(&t, &values, &exists, today()).unwrap_err();
        assert_eq!(violations.len(), 1, "{violations:?}");
        violations[0].to_string()
    }

    #[test]
    fn accepts_a_good_record() {
        let t = template();
        assert_eq!(validate(&t, &good_values(&t), &exists, today()), Ok(()));
        // Optional items may be left out.
        let minimal: Vec<HandleValue> = good_values(&t)
            .into_iter()
            .filter(|v| v.index <= 2000)
            .collect();
        assert_eq!(validate(&t, &minimal, &exists, today()), Ok(()));
    }

    #[test]
    fn every_constraint_kind_has_a_violation() {
        let cases = [
            (
                2000,
                "丙酮123",
                "名称 (name, index 2000): does not match the pattern [^\\d]+",
            ),
            (
                2000,
                "",
                "名称 (name, index 2000): shorter than 1 characters",
            ),
            (
                2001,
                "4.5",
                "数量 (qty, index 2001): expected an integer such as 200 or -3",
            ),
            (
                2001,
                "101",
                "数量 (qty, index 2001): greater than the maximum 100",
            ),
            (
                2002,
                "2024-06-02",
                "生产日期 (productionDate, index 2002): 2024-06-02 is later than today (2024-06-01)",
            ),
            (
                2002,
                "2024-02-30",
                "生产日期 (productionDate, index 2002): expected a real calendar date YYYY-MM-DD",
            ),
            (2003, "吨", "单位 (unit, index 2003): not one of kg, t"),
            (
                2004,
                "88.118.8/P.unknown",
                "生产企业 (producer, index 2004): the handle 88.118.8/P.unknown does not exist",
            ),
            (
                2005,
                "www.example.com",
                "网址 (homepage, index 2005): expected an absolute http:// or https:// URL",
            ),
            (
                2006,
                "sds.pdf",
                "安全技术说明书 (sds, index 2006): neither an http(s) URL nor a handle: not a handle (prefix/suffix): Handle has no '/' between prefix and suffix",
            ),
            (
                2007,
                "67-64-2",
                "CAS号 (CAS, index 2007): check digit does not match",
            ),
            (
                2008,
                "91350100M000100Y44",
                "统一社会信用代码 (uscc, index 2008): check digit does not match",
            ),
            (
                2009,
                "UN109",
                "UN号 (unNo, index 2009): expected a UN number: 4 digits, optionally after UN",
            ),
            (
                2010,
                "01025",
                "危规号 (cnDgNo, index 2010): the first digit of a 危规号 is the class, 1 to 9",
            ),
            (
                2011,
                "990100",
                "行政区划代码 (regionCode, index 2011): the first two digits are not a GB/T 2260 province code",
            ),
            (
                2012,
                "C26",
                "行业代码 (industryCode, index 2012): expected a four-level GB/T 4754-2017 class: a letter and 4 digits",
            ),
            (
                2013,
                r#"["H225","H999"]"#,
                "危险说明 (hazards, index 2013): element 2 (\"H999\"): not a GHS hazard statement code",
            ),
            (
                2014,
                "IV",
                "包装类别 (packingGroup, index 2014): expected a packing group: I, II or III",
            ),
            (
                2015,
                "闽A123",
                "车牌号 (plate, index 2015): expected a Chinese vehicle plate such as 鲁A12345, 鲁A1234挂 or 京AD12345",
            ),
            (
                2016,
                "350100-2024",
                "电子运单号 (waybillNo, index 2016): expected an e-waybill number of 10 to 32 letters and digits",
            ),
            (
                2017,
                r#"["88.118.8/E.b1","88.118.8/X.b2"]"#,
                "关联批次 (batches, index 2017): element 2 (\"88.118.8/X.b2\"): the handle 88.118.8/X.b2 does not exist",
            ),
            (
                2017,
                "[]",
                "关联批次 (batches, index 2017): fewer than 1 elements",
            ),
        ];
        for (index, text, expected) in cases {
            assert_eq!(violation_for(index, text), expected);
        }
    }

    #[test]
    fn structural_rules() {
        let t = template();

        // A required item is missing.
        let values: Vec<HandleValue> = good_values(&t)
            .into_iter()
            .filter(|v| v.index != 2000)
            .collect();
        let v = validate(&t, &values, &exists, today()).unwrap_err();
        assert_eq!(
            v[0].to_string(),
            "名称 (name, index 2000): required item is missing"
        );

        // A disabled item is written (it is required, but disabled items are not required).
        let mut values = good_values(&t);
        values.push(HandleValue::new(2018, "legacy", "x"));
        let v = validate(&t, &values, &exists, today()).unwrap_err();
        assert_eq!(
            v[0].to_string(),
            "旧字段 (legacy, index 2018): the item is disabled in version 3 of the template and must not be written"
        );

        // An index that no item defines, and a duplicate index.
        let mut values = good_values(&t);
        values.push(HandleValue::new(2100, "extra", "x"));
        values.push(HandleValue::new(2007, "CAS", "64-17-5"));
        let v = validate(&t, &values, &exists, today()).unwrap_err();
        let texts: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "CAS号 (CAS, index 2007): the index appears more than once",
                "(extra, index 2100): no item of template test.all@3 has this index",
            ]
        );

        // The wrong type at an item's index, and data that is not UTF-8.
        let mut values = good_values(&t);
        values.retain(|v| v.index != 2007 && v.index != 2003);
        values.push(HandleValue::new(2007, "cas", "67-64-1"));
        values.push(HandleValue::new(2003, "unit", vec![0xff, 0xfe]));
        let v = validate(&t, &values, &exists, today()).unwrap_err();
        let texts: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "单位 (unit, index 2003): the value is not UTF-8 text",
                "CAS号 (CAS, index 2007): the value type must be CAS, not cas",
            ]
        );
    }

    #[test]
    fn template_link_rules() {
        let t = template();
        let without_link = |values: Vec<HandleValue>| -> Vec<HandleValue> {
            values.into_iter().filter(|v| v.index != 1001).collect()
        };
        let check = |values: &[HandleValue]| -> String {
            let v = validate(&t, values, &exists, today()).unwrap_err();
            assert_eq!(v.len(), 1, "{v:?}");
            v[0].to_string()
        };

        let values = without_link(good_values(&t));
        assert_eq!(
            check(&values),
            "模板 (TEMPLATE, index 1001): missing: index 1001 must hold TEMPLATE = test.all@3"
        );

        let mut values = without_link(good_values(&t));
        values.push(HandleValue::new(1001, "TEMPLATE", "test.all@2"));
        assert_eq!(
            check(&values),
            "模板 (TEMPLATE, index 1001): must name this template and version, test.all@3, not test.all@2"
        );

        let mut values = without_link(good_values(&t));
        values.push(HandleValue::new(1001, "URL", "test.all@3"));
        assert_eq!(
            check(&values),
            "模板 (TEMPLATE, index 1001): the value type must be TEMPLATE, not URL"
        );

        let mut values = good_values(&t);
        values.push(t.link_value());
        assert_eq!(
            check(&values),
            "模板 (TEMPLATE, index 1001): the index appears more than once"
        );

        // Values below 2000 other than 1001 are left alone, whatever they hold.
        let mut values = good_values(&t);
        values.push(HandleValue::new(1500, "anything", vec![0xff]));
        values.push(HandleValue::new(1999, "HS_VLIST", "x"));
        assert_eq!(validate(&t, &values, &exists, today()), Ok(()));
    }

    #[test]
    fn lookup_errors_reject_the_value() {
        let t = template();
        let failing = |_: &Handle| -> Result<bool, LookupError> {
            Err(LookupError("store unavailable".into()))
        };
        let values: Vec<HandleValue> = good_values(&t)
            .into_iter()
            .filter(|v| v.index != 2006 && v.index != 2017)
            .collect();
        let v = validate(&t, &values, &failing, today()).unwrap_err();
        assert_eq!(
            v[0].to_string(),
            "生产企业 (producer, index 2004): could not check that 88.118.8/E.91350100M000100Y43 exists: handle lookup failed: store unavailable"
        );
    }
}
