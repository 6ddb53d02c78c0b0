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
    assert_eq!(config.questdb.endpoint.http_base(), "http://127.0.0.1:9000");
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
    assert_eq!(
        e[0].to_string(),
        "line 3: mqtt.port: invalid type: string \"eighteen\", expected u16"
    );
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
    let text = "[mqtt]\npassword_env = \"MQTT_PW\"\n[questdb]\nconf = \"http::addr=127.0.0.1:9000;username=admin;\"\npassword_env = \"QDB_PW\"\n";
    let env: HashMap<String, String> = [("MQTT_PW", "s3cret"), ("QDB_PW", "q;pw")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::parse(text, "t", &env).unwrap();
    assert_eq!(config.mqtt.password.as_deref(), Some("s3cret"));
    assert!(
        config.questdb.endpoint.conf().ends_with("password=q;;pw;"),
        "{:?}",
        config.questdb.endpoint
    );
    // The escaped `;` is undone for the `/exec` credentials: admin:q;pw.
    assert_eq!(
        config.questdb.endpoint.authorization().as_deref(),
        Some("Basic YWRtaW46cTtwdw==")
    );
}

#[test]
fn a_questdb_password_without_a_user_name_is_an_error() {
    let env: HashMap<String, String> = [("QDB_PW".to_owned(), "pw".to_owned())].into();
    let e = Config::parse("[questdb]\npassword_env = \"QDB_PW\"\n", "t", &env).unwrap_err();
    assert_eq!(e.errors[0].key, "questdb.conf");
    assert!(
        e.errors[0].message.contains("username"),
        "{}",
        e.errors[0].message
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
fn the_hj212_listener_is_off_by_default_and_its_limits_and_sources_are_checked() {
    let c = parse(MINIMAL).unwrap();
    assert!(c.hj212_tcp.is_none(), "off without listen");
    assert_eq!(c.limits.hj212_split_timeout_secs, 60);
    assert!(c.feedback.mqtt_replies);
    let text = format!(
        "{MINIMAL}[devices.hj212]\nmn = \"MN1\"\nallowed_sources = [\"192.0.2.0/24\", \"10.0.0.300\"]\n\n\
         [hj212_tcp]\nlisten = \"0.0.0.0:9212\"\nmax_frame_bytes = 20000\nmax_connections = 0\n"
    );
    let keys: Vec<String> = errors(&text).into_iter().map(|e| e.key).collect();
    assert_eq!(
        keys,
        [
            "devices[0].hj212.allowed_sources[1]",
            "hj212_tcp.max_frame_bytes",
            "hj212_tcp.max_connections",
        ],
        "{keys:?}"
    );
    let text = format!(
        "{MINIMAL}[devices.hj212]\nmn = \"MN1\"\nallowed_sources = [\"192.0.2.0/24\"]\n\n\
         [hj212_tcp]\nlisten = \"127.0.0.1:9212\"\n\n[limits]\nhj212_split_timeout_secs = 5\n"
    );
    let c = parse(&text).unwrap();
    let tcp = c.hj212_tcp.unwrap();
    assert_eq!(tcp.listen, "127.0.0.1:9212");
    assert_eq!(tcp.max_frame_bytes, 4096);
    assert_eq!(c.limits.hj212_split_timeout_secs, 5);
    let device = c.registry.devices().next().unwrap();
    let sources = &device.hj212.as_ref().unwrap().allowed_sources;
    assert!(sources[0].contains("192.0.2.9".parse().unwrap()));
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

/// Writes `sites` and `devices` (JSON Lines text) to a temporary directory and returns the
/// `[registry]` section naming them.
fn registry_files(dir: &tempfile::TempDir, sites: &str, devices: &str) -> (String, String) {
    let s = dir.path().join("sites.jsonl");
    let d = dir.path().join("devices.jsonl");
    std::fs::write(&s, sites).unwrap();
    std::fs::write(&d, devices).unwrap();
    let d_name = d.display().to_string();
    (
        format!(
            "[registry]\nsites_file = {:?}\ndevices_file = {:?}\n",
            s.display().to_string(),
            d_name
        ),
        d_name,
    )
}

const SITES_JSONL: &str = r#"# sites of the test district
{"id": "s1", "name": "site one", "kind": "water", "grid": {"district": "d", "street": "s", "community": "c"}, "water": {"point": "outlet", "disinfectant": "free_chlorine"}}

{"id": "ws1", "name": "waste", "kind": "waste_store", "grid": {"district": "d", "street": "s", "community": "c"}, "waste_store": {"refrigerated": true, "max_temp_c": 8.0, "collection_windows": ["08:00-10:00"]}}
{"id": "dn1", "name": "dental", "kind": "dental_sterilization", "grid": {"district": "d", "street": "s", "community": "c"}, "dental": {"sterilizer": "prevac"}}
"#;

#[test]
fn a_registry_in_json_lines_files_loads_like_the_same_registry_in_toml() {
    let dir = tempfile::tempdir().unwrap();
    let devices = r#"{"id": "d1", "site": "s1", "kind": "water_monitor", "expected_interval_secs": 60, "hj212": {"mn": "MN1", "codes": {"w99001": "free_chlorine_mg_l"}}}
{"id": "w1", "site": "ws1", "kind": "waste_store", "expected_interval_secs": 300}
{"id": "a1", "site": "dn1", "kind": "autoclave", "expected_interval_secs": 30}
"#;
    let (section, _) = registry_files(&dir, SITES_JSONL, devices);
    let from_files = parse(&section).unwrap();
    let toml = format!(
        "{MINIMAL}[devices.hj212]\nmn = \"MN1\"\ncodes = {{ \"w99001\" = \"free_chlorine_mg_l\" }}\n\n\
         [[sites]]\nid = \"ws1\"\nname = \"waste\"\nkind = \"waste_store\"\n\
         grid = {{ district = \"d\", street = \"s\", community = \"c\" }}\n\
         waste_store = {{ refrigerated = true, max_temp_c = 8.0, collection_windows = [\"08:00-10:00\"] }}\n\n\
         [[sites]]\nid = \"dn1\"\nname = \"dental\"\nkind = \"dental_sterilization\"\n\
         grid = {{ district = \"d\", street = \"s\", community = \"c\" }}\ndental = {{ sterilizer = \"prevac\" }}\n\n\
         [[devices]]\nid = \"w1\"\nsite = \"ws1\"\nkind = \"waste_store\"\nexpected_interval_secs = 300\n\n\
         [[devices]]\nid = \"a1\"\nsite = \"dn1\"\nkind = \"autoclave\"\nexpected_interval_secs = 30\n"
    );
    let from_toml = parse(&toml).unwrap();
    let (a, b) = (&from_files.registry, &from_toml.registry);
    assert_eq!(a.site_count(), 3);
    assert_eq!(a.device_count(), 3);
    assert!(a.sites().eq(b.sites()));
    assert!(a.devices().eq(b.devices()));
    assert_eq!(
        a.device("d1")
            .unwrap()
            .hj212
            .as_ref()
            .unwrap()
            .utc_offset_secs,
        8 * 3600
    );
}

#[test]
fn registry_file_errors_name_the_file_and_line_and_all_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let devices = "\
{\"id\": \"d2\", \"site\": \"s1\", \"kind\": \"water_monitor\", \"expected_interval_secs\": 60}
{\"id\": \"d3\", \"site\": \"nowhere\", \"kind\": \"water_monitor\", \"expected_interval_secs\": 60}
{\"id\": \"d4\", \"site\": \"s1\", \"kind\": \"water_monitor\", \"expected_interval_secs\": 60, \"colour\": 1}
{\"id\": \"d1\", \"site\": \"s1\", \"kind\": \"water_monitor\", \"expected_interval_secs\": 0}
{\"id\": \"d5\", \"site\": \"ws1\", \"kind\": \"water_monitor\", \"expected_interval_secs\": 60}
";
    let (section, file) = registry_files(&dir, SITES_JSONL, devices);
    // MINIMAL's TOML site s1 and device d1 collide with sites line 2 and devices line 4.
    let err = parse(&format!("{MINIMAL}\n{section}")).unwrap_err();
    let keys: Vec<&str> = err.errors.iter().map(|e| e.key.as_str()).collect();
    let has = |key: &str, text: &str| {
        err.errors
            .iter()
            .any(|e| e.key == key && e.message.contains(text))
    };
    let sites_file = file.replace("devices.jsonl", "sites.jsonl");
    assert!(
        has(
            &format!("{sites_file}:2: site.id"),
            "duplicate site id \"s1\""
        ),
        "{keys:?}"
    );
    assert!(
        has(
            &format!("{file}:2: device.site"),
            "no site with id \"nowhere\""
        ),
        "{keys:?}"
    );
    assert!(
        has(&format!("{file}:3: (syntax)"), "unknown field `colour`"),
        "{keys:?}"
    );
    assert!(
        has(
            &format!("{file}:4: device.id"),
            "duplicate device id \"d1\""
        ),
        "{keys:?}"
    );
    assert!(
        has(
            &format!("{file}:4: device.expected_interval_secs"),
            "at least 1"
        ),
        "{keys:?}"
    );
    assert!(
        has(
            &format!("{file}:5: device.kind"),
            "which is a waste_store site"
        ),
        "{keys:?}"
    );
    assert_eq!(err.errors.len(), 6, "{keys:?}");
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("{file}:3: (syntax): unknown field `colour`")),
        "{shown}"
    );
}

#[test]
fn a_missing_registry_file_names_the_key_and_line() {
    let e = errors("\n[registry]\ndevices_file = \"/nonexistent/devices.jsonl\"\n");
    assert_eq!(e[0].key, "registry.devices_file");
    assert_eq!(e[0].line, Some(3));
    assert!(e[0].message.contains("cannot read"), "{}", e[0].message);
}

#[test]
fn a_registry_file_lists_at_most_a_hundred_errors() {
    let dir = tempfile::tempdir().unwrap();
    let devices: String = (0..150)
        .map(|i| format!("{{\"id\": \"x{i}\"}}\n"))
        .collect();
    let (section, file) = registry_files(&dir, "", &devices);
    let e = errors(&section);
    assert_eq!(e.len(), 101);
    assert_eq!(e[100].key, file);
    assert!(e[100].message.starts_with("50 more errors"), "{e:?}");
}

#[test]
fn interpolation_fills_values_from_the_environment_with_defaults_and_escapes() {
    let env: HashMap<String, String> =
        [("WJ_BROKER".to_owned(), "broker.example".to_owned())].into();
    let text = "[mqtt]\nhost = \"${WJ_BROKER}\"\nclient_id = \"${WJ_CLIENT:-wj-1}$$\"\n";
    let config = Config::parse(text, "test.toml", &env).unwrap();
    assert_eq!(config.mqtt.host, "broker.example");
    assert_eq!(config.mqtt.client_id, "wj-1$");
}

#[test]
fn an_unset_variable_is_an_error_naming_it_at_its_line_and_later_lines_stay_right() {
    let e = errors("[mqtt]\n\nhost = \"${WJ_UNSET_HOST}\"\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, Some(3));
    assert_eq!(e[0].key, "(environment)");
    assert!(e[0].message.contains("WJ_UNSET_HOST"), "{}", e[0].message);
    // After interpolation, a syntax error still names the line of the file as written.
    let e = errors("[mqtt]\nhost = \"${WJ_UNSET:-a}\"\nport = \n");
    assert_eq!(
        (e[0].line, e[0].key.as_str()),
        (Some(3), "mqtt.port"),
        "{e:?}"
    );
    assert!(!e[0].message.contains('\n'), "one line: {:?}", e[0].message);
}

#[test]
fn the_supervisors_file_is_interpolated_and_its_unset_variables_named_with_file_and_line() {
    let with_reference = ONE_SUPERVISOR.replace("access_token=x", "access_token=${WJ_TEST_ROBOT}");
    let (_dir, text) = with_supervisors(&with_reference, "");
    let env: HashMap<String, String> = [
        ("WJ_TEST_SECRET".to_owned(), "s".to_owned()),
        ("WJ_TEST_ROBOT".to_owned(), "robot-key-1".to_owned()),
    ]
    .into();
    let config = Config::parse(&text, "test.toml", &env).unwrap();
    let supervisors = config.delivery.supervisors.unwrap();
    assert_eq!(
        supervisors.supervisors[0].channels[0].target,
        "https://oapi.dingtalk.com/robot/send?access_token=robot-key-1"
    );
    let e = errors(&text);
    let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|m| m.contains("supervisors.toml:7: (environment)")
                && m.contains("WJ_TEST_ROBOT is not set")),
        "{shown:?}"
    );
}

#[test]
fn relative_paths_are_relative_to_the_file_that_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let conf_dir = dir.path().join("etc");
    std::fs::create_dir_all(conf_dir.join("registry")).unwrap();
    std::fs::write(conf_dir.join("registry/sites.jsonl"), SITES_JSONL).unwrap();
    std::fs::write(conf_dir.join("supervisors.toml"), ONE_SUPERVISOR).unwrap();
    std::fs::write(
        conf_dir.join("rules.toml"),
        include_str!("../../../config/rules/default.toml"),
    )
    .unwrap();
    let path = conf_dir.join("weijian.toml");
    std::fs::write(
        &path,
        "[spool]\ndir = \"spool\"\n[alerts]\nrules_file = \"rules.toml\"\n\
         [registry]\nsites_file = \"registry/sites.jsonl\"\n\
         [delivery]\nsupervisors_file = \"./supervisors.toml\"\n",
    )
    .unwrap();
    let env: HashMap<String, String> = [("WJ_TEST_SECRET".to_owned(), "s".to_owned())].into();
    // The working directory (the crate's) holds none of these files.
    let config = Config::load(&path, &env).unwrap();
    assert_eq!(config.spool.dir, conf_dir.join("spool"));
    assert_eq!(config.registry.site_count(), 3);
    assert_eq!(
        config.alerts.pack_source,
        conf_dir.join("rules.toml").display().to_string()
    );
    assert_eq!(
        config.delivery.supervisors_source.as_deref(),
        Some(
            conf_dir
                .join("./supervisors.toml")
                .display()
                .to_string()
                .as_str()
        )
    );
    // A default stays relative to the working directory.
    std::fs::write(&path, "").unwrap();
    let config = Config::load(&path, &env).unwrap();
    assert_eq!(config.spool.dir, std::path::Path::new("./weijian-spool"));
}

#[test]
fn api_limits_default_to_product_values_and_refuse_zero() {
    let c = parse("").unwrap();
    assert_eq!(c.api, super::api::ApiSettings::default());
    assert_eq!(c.api.max_silence, std::time::Duration::from_secs(72 * 3600));
    let c = parse("[api]\nmax_silence_hours = 6\nmax_body_bytes = 1024\n").unwrap();
    assert_eq!(c.api.max_silence, std::time::Duration::from_secs(6 * 3600));
    assert_eq!(c.api.max_body_bytes, 1024);
    let e = errors("[api]\nmax_silences_per_supervisor = 0\nrefusal_audit_interval_secs = 0\n");
    let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "api.max_silences_per_supervisor",
            "api.refusal_audit_interval_secs"
        ]
    );
    assert!(e
        .iter()
        .all(|e| e.message == "must be at least 1" && e.line.is_some()));
    assert!(
        parse("[api]\nmax_silence_days = 3\n").is_err(),
        "unknown keys are errors"
    );
}

#[test]
fn http_public_url_is_checked_and_reaches_delivery_and_its_absence_is_a_warning() {
    let env: HashMap<String, String> = [("WJ_TEST_SECRET".to_owned(), "s".to_owned())].into();
    let (_dir, text) = with_supervisors(ONE_SUPERVISOR, "");
    let with_url = format!("[http]\npublic_url = \"https://weijian.example.gov.cn/\"\n{text}");
    let config = Config::parse(&with_url, "test.toml", &env).unwrap();
    assert_eq!(
        config.http.public_url.as_deref(),
        Some("https://weijian.example.gov.cn")
    );
    let delivery = config.delivery.supervisors.as_ref().unwrap();
    assert_eq!(
        delivery.public_url.as_deref(),
        Some("https://weijian.example.gov.cn")
    );
    assert!(
        config.http.console.secure_cookies,
        "an https public_url makes the console's cookies Secure"
    );
    assert!(
        config.delivery.warnings.is_empty(),
        "{:?}",
        config.delivery.warnings
    );

    let config = Config::parse(&text, "test.toml", &env).unwrap();
    assert!(!config.http.console.secure_cookies);
    assert!(
        config
            .delivery
            .warnings
            .iter()
            .any(|w| w.contains("http.public_url is not set")),
        "{:?}",
        config.delivery.warnings
    );

    for bad in [
        "weijian.example.gov.cn",
        "ftp://x",
        "https://",
        "https://x/?a=1",
    ] {
        let e = errors(&format!("[http]\npublic_url = \"{bad}\"\n{MINIMAL}"));
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        assert_eq!(
            (e[0].key.as_str(), e[0].line),
            ("http.public_url", Some(2)),
            "{bad}"
        );
    }
}
