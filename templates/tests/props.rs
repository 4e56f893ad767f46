//! Property tests: the validators and constraint checks never panic, generated valid codes are
//! accepted, and templates survive a JSON round trip and a no-op evolution.

use idnode_proto::{Handle, HandleValue};
use idnode_templates::validators::{self, USCC_ALPHABET, USCC_WEIGHTS};
use idnode_templates::{
    Constraint, Date, Item, LookupError, Pattern, Template, builtin, evolve, parse_link, validate,
};
use proptest::prelude::*;

/// Strings drawn mostly from the characters the codes use, so that checks get past the first
/// test; plus separators, Chinese characters and JSON punctuation.
fn code_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9A-Z\\-]{0,20}",
        "(UN ?)?[0-9]{3,5}",
        "[0-9]{2,8}-[0-9]{1,3}-[0-9]{0,2}",
        "[京鲁沪粤][A-Z][0-9A-Z挂]{4,7}",
        "H[0-9]{3}[iFDfd]{0,2}( ?\\+ ?H[0-9]{3}){0,3}",
        "(https?|HTTP|ftp)://[a-z0-9.\\-:@\\[\\]]{0,20}(/[^ ]{0,10})?",
        "\\[(\"[A-Z0-9\\-/.]{0,12}\",?){0,4}\\]",
        "[0-9.\\-e+]{0,12}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        any::<String>(),
    ]
}

fn lookup(handle: &Handle) -> Result<bool, LookupError> {
    Ok(handle.suffix().len().is_multiple_of(2))
}

/// Every kind of constraint, including lists.
fn all_constraints() -> Vec<Constraint> {
    let leaves = vec![
        Constraint::String {
            min_length: Some(1),
            max_length: Some(10),
            pattern: Some(Pattern::new("[A-Z0-9]+").unwrap()),
        },
        Constraint::Number {
            min: Some(-5.0),
            max: Some(1e6),
            integer: false,
        },
        Constraint::Number {
            min: None,
            max: None,
            integer: true,
        },
        Constraint::Date {
            not_after_today: true,
        },
        Constraint::Enum {
            values: vec!["一级".into(), "II".into()],
        },
        Constraint::HandleRef,
        Constraint::Url,
        Constraint::FileRef,
        Constraint::Cas,
        Constraint::Uscc,
        Constraint::UnNumber,
        Constraint::DangerousGoodsNo,
        Constraint::Region,
        Constraint::IndustryCode,
        Constraint::GhsHazards,
        Constraint::PackingGroup,
        Constraint::Plate,
        Constraint::WaybillNo,
    ];
    let lists: Vec<Constraint> = leaves
        .iter()
        .filter(|c| !c.is_list())
        .map(|c| Constraint::List {
            of: Box::new(c.clone()),
            min_items: Some(1),
            max_items: Some(3),
        })
        .collect();
    leaves.into_iter().chain(lists).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validators_never_panic(text in code_like()) {
        let _ = validators::cas(&text);
        let _ = validators::uscc(&text);
        let _ = validators::organization_code(&text);
        let _ = validators::un_number(&text);
        let _ = validators::dangerous_goods_no(&text);
        let _ = validators::region(&text);
        let _ = validators::industry_code(&text);
        let _ = validators::industry_class(&text);
        let _ = validators::ghs_hazard(&text);
        let _ = validators::packing_group(&text);
        let _ = validators::plate(&text);
        let _ = validators::date(&text);
        let _ = validators::url(&text);
        let _ = validators::waybill_no(&text);
        let _ = Date::parse(&text);
        let _ = parse_link(&text);
        let _ = Pattern::new(&text);
        let today = Date::new(2024, 6, 1).unwrap();
        for constraint in all_constraints() {
            let _ = constraint.check(&text, &lookup, today);
        }
    }

    #[test]
    fn validate_never_panics(
        values in prop::collection::vec(
            (prop_oneof![Just(1001u32), 1990u32..2020, any::<u32>()], "[A-Za-z]{0,12}",
             prop_oneof![code_like().prop_map(String::into_bytes),
                         prop::collection::vec(any::<u8>(), 0..20)]),
            0..24),
    ) {
        let today = Date::new(2024, 6, 1).unwrap();
        let values: Vec<HandleValue> = values
            .into_iter()
            .map(|(index, value_type, data)| HandleValue::new(index, value_type, data))
            .collect();
        for template in builtin::all() {
            let _ = validate(template, &values, &lookup, today);
        }
    }

    #[test]
    fn generated_cas_numbers_are_accepted(first in 10u32..10_000_000, second in 0u32..100) {
        let body = format!("{first}{second:02}");
        let check: u32 = body
            .bytes()
            .rev()
            .zip(1u32..)
            .map(|(d, position)| u32::from(d - b'0') * position)
            .sum::<u32>()
            % 10;
        let code = format!("{first}-{second:02}-{check}");
        prop_assert_eq!(validators::cas(&code), Ok(()), "{}", code);
    }

    #[test]
    fn generated_uscc_are_accepted(
        head in prop_oneof![Just("91"), Just("92"), Just("93"), Just("11"), Just("52"), Just("Y1")],
        province in prop::sample::select(validators::PROVINCE_CODES.to_vec()),
        rest in "[0-9]{4}[0-9A-HJ-NP-RTUW-Y]{9}",
    ) {
        let body = format!("{head}{province}{rest}");
        let sum: u32 = body
            .bytes()
            .zip(USCC_WEIGHTS)
            .map(|(b, w)| USCC_ALPHABET.iter().position(|&c| c == b).unwrap() as u32 * w)
            .sum();
        let check = USCC_ALPHABET[((31 - sum % 31) % 31) as usize] as char;
        let code = format!("{body}{check}");
        prop_assert_eq!(validators::uscc(&code), Ok(()), "{}", code);
    }

    #[test]
    fn dates_round_trip(days in 0u64..2_932_897) {
        let date = Date::from_epoch_secs(days * 86_400).unwrap();
        prop_assert_eq!(Date::parse(&date.to_string()), Some(date));
    }

    #[test]
    fn templates_round_trip_through_json(template in template_strategy()) {
        prop_assert_eq!(template.check(), Ok(()));
        let json = template.to_json();
        prop_assert_eq!(Template::from_json(&json), Ok(template.clone()));
        // Pretty-printed JSON parses to the same template.
        let pretty = serde_json::to_string_pretty(&template).unwrap();
        prop_assert_eq!(Template::from_json(&pretty), Ok(template.clone()));
        // A template may always be re-published unchanged as its next version.
        let next = evolve(&template, &template).unwrap();
        prop_assert_eq!(next.version, template.version + 1);
    }
}

/// Numbers with at most ten significant digits, which JSON carries exactly.
fn bound() -> impl Strategy<Value = f64> {
    (-1_000_000_000i64..1_000_000_000, 0i32..4).prop_map(|(n, scale)| n as f64 / 10f64.powi(scale))
}

fn optional_pair<T: Strategy<Value = u32>>(
    low: T,
) -> impl Strategy<Value = (Option<u32>, Option<u32>)> {
    (prop::option::of(low), prop::option::of(0u32..1000)).prop_map(|(a, b)| match (a, b) {
        (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
        other => other,
    })
}

fn leaf_constraint() -> impl Strategy<Value = Constraint> {
    let patterns = prop::sample::select(vec!["[A-Z]+", "\\d{2,4}", "[一-龥]{1,8}", "(a|b)*c", "."]);
    prop_oneof![
        (optional_pair(0u32..1000), prop::option::of(patterns)).prop_map(|((min, max), p)| {
            Constraint::String {
                min_length: min,
                max_length: max,
                pattern: p.map(|p| Pattern::new(p).unwrap()),
            }
        }),
        (
            prop::option::of(bound()),
            prop::option::of(bound()),
            any::<bool>()
        )
            .prop_map(|(a, b, integer)| {
                let (min, max) = match (a, b) {
                    (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                    other => other,
                };
                Constraint::Number { min, max, integer }
            }),
        any::<bool>().prop_map(|not_after_today| Constraint::Date { not_after_today }),
        prop::collection::btree_set("\\PC{1,6}", 1..5).prop_map(|values| Constraint::Enum {
            values: values.into_iter().collect()
        }),
        prop::sample::select(vec![
            Constraint::HandleRef,
            Constraint::Url,
            Constraint::FileRef,
            Constraint::Cas,
            Constraint::Uscc,
            Constraint::UnNumber,
            Constraint::DangerousGoodsNo,
            Constraint::Region,
            Constraint::IndustryCode,
            Constraint::GhsHazards,
            Constraint::PackingGroup,
            Constraint::Plate,
            Constraint::WaybillNo,
        ]),
    ]
}

fn constraint_strategy() -> impl Strategy<Value = Constraint> {
    prop_oneof![
        3 => leaf_constraint(),
        1 => (leaf_constraint().prop_filter("no nested lists", |c| !c.is_list()),
              optional_pair(0u32..10))
            .prop_map(|(of, (min_items, max_items))| Constraint::List {
                of: Box::new(of),
                min_items,
                max_items,
            }),
    ]
}

fn template_strategy() -> impl Strategy<Value = Template> {
    let items = prop::collection::btree_map(
        2000u32..20_000,
        (
            "\\PC{1,12}",
            "t[A-Za-z0-9_]{0,8}",
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            constraint_strategy(),
        ),
        1..8,
    )
    .prop_map(|items| {
        items
            .into_iter()
            .map(
                |(index, (name, id_type, required, enabled, indexed, constraint))| Item {
                    name,
                    // The index makes every idType unique.
                    id_type: format!("{id_type}{index}"),
                    index,
                    required,
                    enabled,
                    indexed,
                    constraint,
                },
            )
            .collect::<Vec<Item>>()
    });
    (
        "[a-z][a-z0-9._-]{0,20}",
        1u32..1000,
        prop::sample::select(vec!["C2614", "C2661", "G5942", "G5435", "A0111", "T9700"]),
        prop::option::of("88(\\.[0-9]{1,4}){1,3}"),
        "\\PC{0,40}",
        items,
    )
        .prop_map(
            |(name, version, industry_code, prefix, description, items)| Template {
                name,
                version,
                industry_code: industry_code.to_owned(),
                prefix,
                description,
                items,
            },
        )
}
