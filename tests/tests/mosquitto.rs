//! Tests of the Mosquitto harness: a rumqttc client publishes and subscribes through it, and a
//! persistent session's queued QoS 1 message survives a broker restart, and a port another
//! server took first is not mistaken for the broker.

use std::time::Duration;

use anyhow::Context;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use weijian_tests::mosquitto::Mosquitto;

fn broker() -> anyhow::Result<Option<Mosquitto>> {
    if !Mosquitto::is_available() {
        eprintln!("SKIPPED: mosquitto is not installed (apt-get install mosquitto)");
        return Ok(None);
    }
    Ok(Some(Mosquitto::start()?))
}

fn client(b: &Mosquitto, id: &str, clean: bool) -> (AsyncClient, EventLoop) {
    let mut opts = MqttOptions::new(id, b.host(), b.port());
    opts.set_keep_alive(Duration::from_secs(5));
    opts.set_clean_session(clean);
    AsyncClient::new(opts, 100)
}

/// Poll until a publish arrives (or `timeout`), returning its topic and payload.
async fn next_publish(ev: &mut EventLoop, timeout: Duration) -> anyhow::Result<(String, Vec<u8>)> {
    tokio::time::timeout(timeout, async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = ev.poll().await? {
                return Ok::<_, anyhow::Error>((p.topic.clone(), p.payload.to_vec()));
            }
        }
    })
    .await
    .context("no publish received in time")?
}

/// Poll until an incoming packet `is` what is awaited (or 5 s: an error naming `what`).
async fn wait_for(ev: &mut EventLoop, what: &str, is: fn(&Packet) -> bool) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Event::Incoming(p) = ev.poll().await? {
                if is(&p) {
                    return Ok::<_, anyhow::Error>(());
                }
            }
        }
    })
    .await
    .with_context(|| format!("no {what}"))?
}

/// Poll until the SUBACK arrives.
async fn wait_suback(ev: &mut EventLoop) -> anyhow::Result<()> {
    wait_for(ev, "SUBACK", |p| matches!(p, Packet::SubAck(_))).await
}

/// Poll until the broker acknowledges a QoS 1 publish.
async fn wait_puback(ev: &mut EventLoop) -> anyhow::Result<()> {
    wait_for(ev, "PUBACK", |p| matches!(p, Packet::PubAck(_))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_subscribe_through_mosquitto() -> anyhow::Result<()> {
    let Some(b) = broker()? else { return Ok(()) };
    let (sub, mut sub_ev) = client(&b, "sub1", true);
    sub.subscribe("weijian/test/#", QoS::AtLeastOnce).await?;
    wait_suback(&mut sub_ev).await?;

    let (publ, mut pub_ev) = client(&b, "pub1", true);
    publ.publish("weijian/test/a", QoS::AtLeastOnce, false, b"hello".to_vec())
        .await?;
    let pump = tokio::spawn(async move {
        loop {
            if pub_ev.poll().await.is_err() {
                break;
            }
        }
    });
    let (topic, payload) = next_publish(&mut sub_ev, Duration::from_secs(5)).await?;
    assert_eq!(topic, "weijian/test/a");
    assert_eq!(payload, b"hello");
    pump.abort();
    assert!(b.log().contains("New client connected"), "{}", b.log());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_message_survives_restart() -> anyhow::Result<()> {
    let Some(mut b) = broker()? else {
        return Ok(());
    };
    let port = b.port();
    {
        let (sub, mut ev) = client(&b, "durable-sub", false);
        sub.subscribe("weijian/durable", QoS::AtLeastOnce).await?;
        wait_suback(&mut ev).await?;
        sub.disconnect().await?;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while ev.poll().await.is_ok() {}
        })
        .await;
    }
    {
        let (publ, mut ev) = client(&b, "pub2", true);
        publ.publish("weijian/durable", QoS::AtLeastOnce, false, b"kept".to_vec())
            .await?;
        wait_puback(&mut ev).await?;
    }
    tokio::task::block_in_place(|| b.restart())?;
    assert_eq!(b.port(), port);
    assert!(b.is_running());

    let (_sub, mut ev) = client(&b, "durable-sub", false);
    let (topic, payload) = next_publish(&mut ev, Duration::from_secs(5)).await?;
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("weijian/durable", &b"kept"[..])
    );
    Ok(())
}

#[test]
fn stop_makes_the_port_refuse_and_resume_restores_it() -> anyhow::Result<()> {
    let Some(mut b) = broker()? else {
        return Ok(());
    };
    b.stop()?;
    assert!(std::net::TcpStream::connect((b.host(), b.port())).is_err());
    b.resume()?;
    assert!(std::net::TcpStream::connect((b.host(), b.port())).is_ok());
    let custom = Mosquitto::start_with_config("max_keepalive 30")?;
    assert!(
        std::fs::read_to_string(custom.dir().join("mosquitto.conf"))?.contains("max_keepalive 30")
    );
    Ok(())
}

/// The free port is released before Mosquitto binds it; a test running alongside can take it
/// in between. Then Mosquitto exits, while the port still accepts (the other test's server):
/// the harness must not take that server for the broker, and starts on another port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_taken_before_mosquitto_binds_it_is_not_mistaken_for_the_broker(
) -> anyhow::Result<()> {
    if !Mosquitto::is_available() {
        eprintln!("SKIPPED: mosquitto is not installed (apt-get install mosquitto)");
        return Ok(());
    }
    let mut squatter = None;
    let b = Mosquitto::start_with_settings(
        |port, _dir| {
            if squatter.is_none() {
                // The race, made certain: another server listens on the port first.
                squatter = std::net::TcpListener::bind(("127.0.0.1", port)).ok();
            }
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n")
        },
        "",
    )?;
    let taken = squatter
        .as_ref()
        .map(|l| l.local_addr().map(|a| a.port()))
        .transpose()?
        .context("the test could not take the first port")?;
    assert_ne!(
        b.port(),
        taken,
        "the broker was taken to be on the squatted port"
    );
    // And it is Mosquitto that answers on its port.
    let (publ, mut ev) = client(&b, "after-squatter", true);
    publ.publish("weijian/test/s", QoS::AtLeastOnce, false, b"x".to_vec())
        .await?;
    wait_puback(&mut ev).await?;
    Ok(())
}
