//! Loading and validating the supervisors configuration.

use super::*;

#[test]
fn a_bearer_token_hash_finds_its_supervisor() {
    let e = engine();
    let hash = "51CB393DDFD8F83343329800A455DBC0454CE17C1198437BCECF35E4CB9C890F";
    assert_eq!(
        e.config()
            .supervisor_by_token_sha256(hash)
            .map(|s| s.id.as_str()),
        Some("qu-shifan")
    );
    assert!(e
        .config()
        .supervisor_by_token_sha256(&"0".repeat(64))
        .is_none());
    assert!(e.config().supervisor_by_token_sha256("").is_none());
}

#[test]
fn the_example_config_loads_with_the_rules_md_defaults() {
    let loaded = DeliveryConfig::from_toml(EXAMPLE, "supervisors.example.toml", &sites());
    let Ok(loaded) = loaded else {
        panic!("{loaded:?}")
    };
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.timing, DeliveryTiming::default());
    assert_eq!(loaded.config.supervisors.len(), 7);
    let tiers: BTreeMap<&str, Tier> = loaded
        .config
        .supervisors
        .iter()
        .map(|s| (s.id.as_str(), s.tier()))
        .collect();
    assert_eq!(tiers["shi-duty"], Tier::City);
    assert_eq!(tiers["qu-shifan"], Tier::District);
    assert_eq!(tiers["jd-beijiao"], Tier::Street);
    assert_eq!(tiers["sq-xuefu"], Tier::Community);
    let t = DeliveryTiming::default();
    assert_eq!(
        Level::ALL.map(|l| (t.ack_secs(l) / 60, t.repeat_secs(l).map(|s| s / 60))),
        [
            (15, Some(30)),
            (60, Some(120)),
            (240, Some(720)),
            (1440, None)
        ]
    );
}

fn errors(src: &str) -> Vec<(String, Option<usize>, String)> {
    match DeliveryConfig::from_toml(src, "t.toml", &sites()) {
        Ok(l) => panic!("loaded: {:?}", l.config),
        Err(errs) => errs
            .into_iter()
            .map(|e| (e.path, e.line, e.message))
            .collect(),
    }
}

const CITY: &str = "[[supervisors]]\nid = \"city\"\nname = \"市\"\ncell = {}\ntoken_sha256 = \"9c16e77dfccf915ddd0f58f3073ca60dfa8e8a27d69b368364a8129acd4ce677\"\nchannels = [{ kind = \"email\", target = \"a@b.cn\" }]\n";

#[test]
fn unknown_keys_and_bad_channel_kinds_are_errors_with_key_and_line() {
    let src = format!("{CITY}\n[delivery]\nack_deadline_mins = {{ I = 15 }}\ngroup_windows = 60\n");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].0.as_str(), errs[0].1),
        ("group_windows", Some(10)),
        "{errs:?}"
    );
    assert!(errs[0].2.contains("unknown field"), "{errs:?}");

    let src = CITY.replace("kind = \"email\"", "kind = \"sms\"");
    let errs = errors(&src);
    assert_eq!(errs[0].1, Some(6), "{errs:?}");
    assert!(errs[0].2.contains("sms"), "{errs:?}");
    assert!(errs[0].0.starts_with("channels"), "{errs:?}");

    let errs = errors(&format!("{CITY}[delivery]\nrepeat_mins = {{ V = 3 }}\n"));
    assert_eq!(errs[0].1, Some(8), "{errs:?}");
}

#[test]
fn semantic_config_errors_are_all_reported_with_lines() {
    let src = format!(
        "{CITY}
[[supervisors]]
id = \"city\"
name = \"dup\"
cell = {{ district = \"示范区\", street = \"东城街道\", community = \"无此社区\" }}
token_sha256 = \"xyz\"
channels = [{{ kind = \"email\", target = \"not-an-address\" }}, {{ kind = \"wecom\", target = \"qyapi\", secret_env = \"the-secret\" }}]

[[supervisors]]
id = \"b\"
name = \"b\"
cell = {{ district = \"示范区\", community = \"水厂社区\" }}
token_sha256 = \"9C16E77DFCCF915DDD0F58F3073CA60DFA8E8A27D69B368364A8129ACD4CE677\"

[delivery]
ack_deadline_mins = {{ II = 0 }}
"
    );
    let errs = errors(&src);
    let got: Vec<(&str, Option<usize>)> = errs.iter().map(|(p, l, _)| (p.as_str(), *l)).collect();
    assert_eq!(
        got,
        [
            ("delivery.ack_deadline_mins.II", Some(22)),
            ("supervisors[1] (city).id", Some(9)),
            ("supervisors[1] (city).cell", Some(11)),
            ("supervisors[1] (city).channels[0].target", Some(13)),
            ("supervisors[1] (city).channels[1].target", Some(13)),
            ("supervisors[1] (city).channels[1].secret_env", Some(13)),
            ("supervisors[1] (city).token_sha256", Some(12)),
            ("supervisors[2] (b).cell", Some(18)),
            ("supervisors[2] (b).token_sha256", Some(19)),
        ],
        "{errs:#?}"
    );
    assert!(errs[1].2.contains("duplicate"));
    assert!(errs[2].2.contains("无此社区"));
    assert!(errs[8].2.contains("same token hash as supervisor city"));
}

#[test]
fn a_site_without_any_responsible_supervisor_is_an_error() {
    let src = "[[supervisors]]\nid = \"e\"\nname = \"东城\"\ncell = { district = \"示范区\", street = \"东城街道\" }\ntoken_sha256 = \"9c16e77dfccf915ddd0f58f3073ca60dfa8e8a27d69b368364a8129acd4ce677\"\n";
    let errs = errors(src);
    let uncovered: Vec<&str> = errs.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(
        uncovered,
        ["sites.wp-north-outlet", "sites.dental-a"],
        "{errs:#?}"
    );
    assert!(errs[0].2.contains("no responsible supervisor"));
}

#[test]
fn a_supervisor_without_channels_is_a_warning() {
    let src = CITY.replace(
        "channels = [{ kind = \"email\", target = \"a@b.cn\" }]\n",
        "",
    );
    let loaded = DeliveryConfig::from_toml(&src, "t.toml", &sites());
    let Ok(loaded) = loaded else {
        panic!("{loaded:?}")
    };
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].line, Some(1));
}

#[test]
fn a_bad_mobile_number_or_channel_language_is_an_error_with_its_line() {
    let src = CITY.replace("cell = {}", "cell = {}\nmobile = \"+86 138 0000 0000\"");
    let errs = errors(&src);
    // The supervisor is dropped, so its sites are uncovered too: the mobile comes first.
    assert_eq!(
        (errs[0].0.as_str(), errs[0].1),
        ("supervisors[0] (city).mobile", Some(5))
    );
    assert!(errs[0].2.contains("11 digits"), "{errs:?}");

    let src = CITY.replace(
        "target = \"a@b.cn\"",
        "target = \"a@b.cn\", language = \"fr\"",
    );
    let errs = errors(&src);
    assert_eq!(errs[0].1, Some(6), "{errs:?}");
    assert!(errs[0].2.contains("fr"), "{errs:?}");

    let src = CITY.replace(
        "target = \"a@b.cn\"",
        "target = \"a@b.cn\", language = \"zh\"",
    );
    let loaded = DeliveryConfig::from_toml(&src, "t.toml", &sites()).unwrap();
    assert_eq!(
        loaded.config.supervisors[0].channels[0].language(),
        Language::Zh
    );
}
