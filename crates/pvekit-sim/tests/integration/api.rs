//! Routing and parameter validation like the real server.

use crate::util::start_default;

#[tokio::test]
async fn unknown_path_is_501() {
    let s = start_default().await;
    let r = s.get("/foo").await;
    assert_eq!(r.status, 501);
    assert_eq!(r.message(), "Method 'GET /foo' not implemented\n");
    let r = s
        .send(
            s.http
                .delete(s.url("/version"))
                .header("Authorization", s.token_header()),
        )
        .await;
    assert_eq!(r.status, 501);
    assert_eq!(r.message(), "Method 'DELETE /version' not implemented\n");
    let (status, _) = s
        .raw(format!(
            "GET /api2/json/foo/bar HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
            s.token_header()
        ))
        .await;
    assert_eq!(status, "HTTP/1.1 501 Method 'GET /foo/bar' not implemented");
}

#[tokio::test]
async fn parameter_errors() {
    let s = start_default().await;
    let r = s.get("/cluster/resources?foo=1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "Parameter verification failed.\n");
    assert_eq!(
        r.error("foo"),
        "property is not defined in schema and the schema does not allow additional properties"
    );
    let r = s.get("/cluster/resources?type=x").await;
    assert_eq!(
        r.error("type"),
        "value 'x' does not have a value in the enumeration 'vm, storage, node, sdn'"
    );
    let r = s.get("/nodes/pve1/lxc/abc/status/current").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error("vmid"), "type check ('integer') failed - got 'abc'");
    let r = s.get("/nodes/pve1/lxc/99/status/current").await;
    assert_eq!(r.error("vmid"), "value must have a minimum value of 100");
    let r = s.get("/nodes/pve1/lxc/100/config?current=true").await;
    assert_eq!(
        r.error("current"),
        "type check ('boolean') failed - got 'true'"
    );
    let r = s.get("/nodes/pve1/lxc/100/rrddata").await;
    assert_eq!(
        r.error("timeframe"),
        "property is missing and it is not optional"
    );
    let r = s.get("/nodes/bad_name/lxc").await;
    assert!(
        r.error("node").starts_with("invalid format - "),
        "{:?}",
        r.json()
    );
    // `_dc` is dropped; booleans 1/0 pass.
    let r = s.get("/nodes/pve1/qemu?full=1&_dc=123").await;
    assert_eq!(r.status, 200);
    // The raw status line carries the message.
    let (status, body) = s
        .raw(format!(
            "GET /api2/json/cluster/resources?foo=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
            s.token_header()
        ))
        .await;
    assert_eq!(status, "HTTP/1.1 400 Parameter verification failed.");
    assert!(body.contains("\"errors\""));
    // Rejections are recorded.
    assert!(
        s.sim
            .rejections()
            .iter()
            .any(|r| r.status == 400 && r.path == "/cluster/resources")
    );
}

#[tokio::test]
async fn post_parameters_are_validated_before_later_handlers() {
    let s = start_default().await;
    let r = s
        .send(
            s.http
                .post(s.url("/nodes/pve1/lxc/100/status/shutdown"))
                .header("Authorization", s.token_header())
                .form(&[("forceStop", "true"), ("timeout", "-1")]),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error("forceStop"),
        "type check ('boolean') failed - got 'true'"
    );
    assert_eq!(r.error("timeout"), "value must have a minimum value of 0");
    // Query overrides body.
    let r = s
        .send(
            s.http
                .put(s.url("/nodes/pve1/lxc/100/config?cores=2"))
                .header("Authorization", s.token_header())
                .form(&[("cores", "0")]),
        )
        .await;
    assert_ne!(r.status, 400, "{:?}", r.json());
    let r = s
        .send(
            s.http
                .put(s.url("/nodes/pve1/lxc/100/config"))
                .header("Authorization", s.token_header())
                .form(&[("net0", "bridge=vmbr0"), ("net32", "name=eth0")]),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error("net0").contains("name"), "{:?}", r.json());
    assert!(r.error("net32").starts_with("property is not defined"));
}

#[tokio::test]
async fn body_on_get_is_refused() {
    let s = start_default().await;
    let r = s
        .send(
            s.http
                .get(s.url("/version"))
                .header("Authorization", s.token_header())
                .body("a=b"),
        )
        .await;
    assert_eq!(r.status, 501);
}

#[tokio::test]
async fn missing_guest_and_unknown_node() {
    let s = start_default().await;
    let r = s.get("/nodes/pve1/lxc/99999/status/current").await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message(),
        "Configuration file 'nodes/pve1/lxc/99999.conf' does not exist\n"
    );
    let r = s.get("/nodes/pve1/qemu/99999/status/current").await;
    assert_eq!(
        r.message(),
        "Configuration file 'nodes/pve1/qemu-server/99999.conf' does not exist\n"
    );
    let r = s.get("/nodes/nosuch/lxc").await;
    assert_eq!(r.status, 500);
    assert!(r.message().starts_with("hostname lookup 'nosuch' failed"));
    // A container asked on the wrong node does not exist there.
    let res = s.data("/cluster/resources?type=vm").await;
    let ct = res
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == "lxc")
        .expect("a container")
        .clone();
    let other = if ct["node"] == "pve1" { "pve2" } else { "pve1" };
    let r = s
        .get(&format!("/nodes/{other}/lxc/{}/config", ct["vmid"]))
        .await;
    assert_eq!(r.status, 500);
    assert!(r.message().contains("does not exist"));
}
