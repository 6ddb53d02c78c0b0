//! Configuration loading: the shipped example is valid, and each invalid example produces a
//! message naming the key and the line.

use std::collections::HashMap;

use alerting::model::Metric;

use super::validate::parse_utc_offset;
use super::*;

const EXAMPLE: &str = include_str!("../../../config/weijian.example.toml");

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "test.toml", &HashMap::<String, String>::new())
}

fn errors(text: &str) -> Vec<ConfigError> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors,
    }
}

const MINIMAL: &str = r#"
[[sites]]
id = "s1"
name = "site one"
kind = "water"
grid = { district = "d", street = "s", community = "c" }
water = { point = "outlet", disinfectant = "free_chlorine" }

[[devices]]
id = "d1"
site = "s1"
kind = "water_monitor"
expected_interval_secs = 60
"#;

#[test]
fn the_shipped_example_is_valid() {
    let config = parse(EXAMPLE).unwrap();
    assert_eq!(config.registry.site_count(), 5);
    assert_eq!(config.registry.device_count(), 5);
    let wm = config.registry.device("wm-east-out-1").unwrap();
    let hj = wm.hj212.as_ref().unwrap();
    assert_eq!(hj.utc_offset_secs, 8 * 3600);
    assert_eq!(hj.codes.get("w99001"), Some(&Metric::FreeChlorineMgL));
    assert_eq!(config.questdb.http_base, "http://127.0.0.1:9000");
}

#[test]
fn an_empty_file_gives_all_defaults_and_an_empty_registry() {
    let config = parse("").unwrap();
    assert_eq!(config.mqtt.protocol, MqttProtocol::V5);
    assert_eq!(config.mqtt.topic_prefix, "weijian/v1");
    assert_eq!(config.limits.max_payload_bytes, 256 * 1024);
    assert_eq!(config.registry.device_count(), 0);
}

#[test]
fn an_unknown_key_is_an_error_with_its_line() {
    let e = errors("[mqtt]\nhost = \"x\"\nkeepalive = 5\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, Some(3), "{e:?}");
    assert!(e[0].message.contains("keepalive"), "{}", e[0].message);
}

#[test]
fn a_syntax_error_names_its_line() {
    let e = errors("[mqtt]\nport = \n");
    assert_eq!(e[0].line, Some(2), "{e:?}");
}

#[test]
fn a_wrong_type_names_its_line() {
    let e = errors("[mqtt]\n\nport = \"eighteen\"\n");
    assert_eq!(e[0].line, Some(3), "{e:?}");
}

#[test]
fn every_semantic_error_is_reported_at_once_with_key_and_line() {
    let text = format!(
        "{MINIMAL}\n[[devices]]\nid = \"d2\"\nsite = \"nowhere\"\nkind = \"water_monitor\"\nexpected_interval_secs = 0\n"
    )
    .replace("[[sites]]", "[mqtt]\ninflight = 0\nprotocol = \"6\"\n\n[[sites]]");
    let e = errors(&text);
    let keys: Vec<_> = e.iter().map(|e| e.key.as_str()).collect();
    assert!(keys.contains(&"mqtt.inflight"), "{keys:?}");
    assert!(keys.contains(&"mqtt.protocol"), "{keys:?}");
    assert!(keys.contains(&"devices[1].site"), "{keys:?}");
    assert!(
        keys.contains(&"devices[1].expected_interval_secs"),
        "{keys:?}"
    );
    assert!(e.iter().all(|e| e.line.is_some()), "{e:?}");
    let site_err = e.iter().find(|e| e.key == "devices[1].site").unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("\"nowhere\""))
        .unwrap()
        + 1;
    assert_eq!(site_err.line, Some(line));
    assert!(site_err.message.contains("nowhere"));
}

#[test]
fn a_device_of_the_wrong_kind_for_its_site_is_rejected() {
    let text = MINIMAL.replace("kind = \"water_monitor\"", "kind = \"autoclave\"");
    let e = errors(&text);
    assert_eq!(e[0].key, "devices[0].kind");
    assert!(e[0].message.contains("water site"), "{}", e[0].message);
}

#[test]
fn a_water_site_without_attributes_is_rejected() {
    let text = MINIMAL.replace(
        "water = { point = \"outlet\", disinfectant = \"free_chlorine\" }",
        "",
    );
    let e = errors(&text);
    assert!(e.iter().any(|e| e.key == "sites[0].water"), "{e:?}");
}

#[test]
fn a_bad_disinfectant_names_the_key_and_line() {
    let text = MINIMAL.replace("free_chlorine", "bleach");
    let e = errors(&text);
    assert_eq!(e[0].key, "sites[0].water.disinfectant");
    assert_eq!(e[0].line, Some(7));
}

#[test]
fn ids_must_be_topic_safe() {
    let text = MINIMAL.replace("id = \"d1\"", "id = \"d/1\"");
    let e = errors(&text);
    assert!(e.iter().any(|e| e.key == "devices[0].id"), "{e:?}");
}

#[test]
fn duplicate_ids_and_mns_are_rejected() {
    let text = format!(
        "{MINIMAL}\n[devices.hj212]\nmn = \"MN1\"\n\n[[devices]]\nid = \"d1\"\nsite = \"s1\"\nkind = \"water_monitor\"\nexpected_interval_secs = 60\n[devices.hj212]\nmn = \"MN1\"\n"
    );
    let e = errors(&text);
    assert!(
        e.iter().any(|e| e.message.contains("duplicate device id")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|e| e.message.contains("already registered")),
        "{e:?}"
    );
}

#[test]
fn secrets_come_from_the_environment() {
    let text = "[mqtt]\npassword_env = \"MQTT_PW\"\n[questdb]\npassword_env = \"QDB_PW\"\n";
    let env: HashMap<String, String> = [("MQTT_PW", "s3cret"), ("QDB_PW", "q;pw")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::parse(text, "t", &env).unwrap();
    assert_eq!(config.mqtt.password.as_deref(), Some("s3cret"));
    assert!(
        config.questdb.conf.ends_with("password=q;;pw;"),
        "{}",
        config.questdb.conf
    );
}

#[test]
fn a_missing_secret_variable_names_the_key_and_variable() {
    let e = errors("[mqtt]\npassword_env = \"NOT_SET_ANYWHERE\"\n");
    assert_eq!(e[0].key, "mqtt.password_env");
    assert_eq!(e[0].line, Some(2));
    assert!(e[0].message.contains("NOT_SET_ANYWHERE"));
}

#[test]
fn only_http_questdb_transports_are_accepted() {
    let e = errors("[questdb]\nconf = \"tcp::addr=localhost:9009;\"\n");
    assert_eq!(e[0].key, "questdb.conf");
    assert!(e[0].message.contains("http"), "{}", e[0].message);
}

#[test]
fn hj212_code_overrides_must_name_catalogue_metrics_of_the_device_kind() {
    let text = format!(
        "{MINIMAL}[devices.hj212]\nmn = \"MN1\"\ncodes = {{ \"w99\" = \"humidity_pct\" }}\n"
    );
    let e = errors(&text);
    assert_eq!(e[0].key, "devices[0].hj212.codes.w99");
}

#[test]
fn errors_display_with_file_line_key_and_reason() {
    let err = parse("[mqtt]\ninflight = 0\n").unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with("test.toml: 1 configuration error:"),
        "{shown}"
    );
    assert!(
        shown.contains("line 2: mqtt.inflight: must be at least 1"),
        "{shown}"
    );
}

#[test]
fn utc_offsets_parse() {
    assert_eq!(parse_utc_offset("+08:00"), Some(28_800));
    assert_eq!(parse_utc_offset("-03:30"), Some(-12_600));
    assert_eq!(parse_utc_offset("Z"), Some(0));
    assert_eq!(parse_utc_offset("8"), None);
    assert_eq!(parse_utc_offset("+25:00"), None);
}

fn with_supervisors(supervisors: &str, extra: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supervisors.toml");
    std::fs::write(&path, supervisors).unwrap();
    let text = format!(
        "{MINIMAL}\n[delivery]\nsupervisors_file = \"{}\"\n{extra}",
        path.display()
    );
    (dir, text)
}

const ONE_SUPERVISOR: &str = r#"
[[supervisors]]
id = "sq-c"
name = "社区 协管员"
cell = { district = "d", street = "s", community = "c" }
token_sha256 = "e899b120ae4398e81faa49823aa8bb543632ec042223c781efc67dfd7cf73f8f"
channels = [{ kind = "dingtalk", target = "https://oapi.dingtalk.com/robot/send?access_token=x", secret_env = "WJ_TEST_SECRET" }]
"#;

#[test]
fn a_valid_supervisors_file_turns_delivery_on() {
    let (_dir, text) = with_supervisors(ONE_SUPERVISOR, "");
    let env: HashMap<String, String> = [("WJ_TEST_SECRET".to_owned(), "s".to_owned())].into();
    let config = Config::parse(&text, "test.toml", &env).unwrap();
    let supervisors = config.delivery.supervisors.unwrap();
    assert_eq!(supervisors.supervisors.len(), 1);
    assert_eq!(supervisors.supervisors[0].id, "sq-c");
}

#[test]
fn a_channel_that_could_not_work_is_an_error_naming_the_supervisor_and_the_line() {
    let (_dir, text) = with_supervisors(ONE_SUPERVISOR, "");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].key, "delivery.supervisors_file");
    let line = text
        .lines()
        .position(|l| l.starts_with("supervisors_file"))
        .unwrap()
        + 1;
    assert_eq!(e[0].line, Some(line));
    assert!(e[0].message.contains("sq-c"), "{}", e[0].message);
    assert!(e[0].message.contains("WJ_TEST_SECRET"), "{}", e[0].message);
}

#[test]
fn an_invalid_supervisors_file_reports_its_own_key_and_line() {
    let broken = ONE_SUPERVISOR.replace("community = \"c\"", "community = \"nowhere\"");
    let (_dir, text) = with_supervisors(&broken, "");
    let e = errors(&text);
    let all: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(
        all.iter()
            .any(|m| m.contains("supervisors.toml:") && m.contains("nowhere")),
        "{all:?}"
    );
}

#[test]
fn email_channels_need_smtp_and_smtp_settings_are_checked() {
    let email = ONE_SUPERVISOR.replace(
        r#"{ kind = "dingtalk", target = "https://oapi.dingtalk.com/robot/send?access_token=x", secret_env = "WJ_TEST_SECRET" }"#,
        r#"{ kind = "email", target = "wang@example.org" }"#,
    );
    let (_dir, text) = with_supervisors(&email, "");
    let e = errors(&text);
    assert!(e[0].message.contains("[delivery.smtp]"), "{e:?}");
    let (_dir, text) = with_supervisors(
        &email,
        "[delivery.smtp]\nhost = \"smtp.example.org\"\ntls = \"ssl\"\nfrom = \"nobody\"\nusername = \"u\"\n",
    );
    let keys: Vec<String> = errors(&text).into_iter().map(|e| e.key).collect();
    for key in ["delivery.smtp.tls", "delivery.smtp.from", "delivery.smtp"] {
        assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
    }
}
