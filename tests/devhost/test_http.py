"""HTTP triggers, function keys, and the Durable HTTP API as the app's client uses it."""

from __future__ import annotations

import json
import threading
import time
import uuid

from devhost.client import DevhostClient


def test_http_starter_and_check_status_urls_poll_to_completion(client: DevhostClient) -> None:
    instance = f"http-{uuid.uuid4().hex[:8]}"
    response = client.call(
        "POST", "orchestrators/chain", params={"id": instance}, json_body="Grace"
    )
    assert response.status == 202, response.text
    payload = response.json()
    assert payload["id"] == instance
    assert response.headers["Location"] == payload["statusQueryGetUri"]
    assert payload["statusQueryGetUri"].startswith(
        f"{client.base_url}/runtime/webhooks/durabletask/instances/{instance}?taskHub=SampleHub"
    )
    for key in ("sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"):
        assert "code=" in payload[key]
    deadline = time.monotonic() + 20
    while True:
        polled = client.request("GET", payload["statusQueryGetUri"])
        if polled.status == 200:
            break
        assert polled.status == 202 and polled.headers["Retry-After"] == "5"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status = polled.json()
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Grace-1!", "Hello Grace-2!", "Hello Grace-3!"]
    # The same status URL with the function key instead of the system key, or without any key:
    # refused, as the host refuses them (the system key or the master key only).
    base = payload["statusQueryGetUri"].split("&code=")[0]
    assert client.request("GET", base, key=client.function_key).status == 401
    assert client.request("GET", base).status == 401


def test_function_level_routes_need_a_key(client: DevhostClient) -> None:
    assert client.call("POST", "orchestrators/chain", use_key=False).status == 401
    wrong = client.request("GET", "/api/echo/a/1", key="not-a-key")
    assert wrong.status == 401
    by_header = client.request(
        "GET", "/api/echo/a/1", headers={"x-functions-key": client.function_key}
    )
    assert by_header.status == 200
    assert client.call("GET", "ping", use_key=False).text == "pong"


def test_the_key_header_wins_over_the_code_query_parameter(client: DevhostClient) -> None:
    # As the Functions host: x-functions-key first, ?code= only without the header.
    right_header = client.request("GET", "/api/echo/a/1", key="wrong-code",
                                  headers={"x-functions-key": client.function_key})
    assert right_header.status == 200
    wrong_header = client.request("GET", "/api/echo/a/1", key=client.function_key,
                                  headers={"x-functions-key": "wrong-header"})
    assert wrong_header.status == 401
    empty_header = client.request("GET", "/api/echo/a/1", key=client.function_key,
                                  headers={"x-functions-key": ""})
    assert empty_header.status == 401


def test_a_function_key_opens_its_own_function_only(client: DevhostClient) -> None:
    # learn.microsoft.com, "Work with access keys in Azure Functions": a function key "allows
    # access only to a specific function endpoint"; a host key opens all of them.
    echo_key = client.set_function_key("echo", "only-echo")
    whoami_key = client.set_function_key("whoami", "only-whoami")
    assert client.request("GET", "/api/echo/a/1", key=echo_key).status == 200
    assert client.request("GET", "/api/whoami", key=echo_key).status == 401
    assert client.request("GET", "/api/whoami", key=whoami_key).status == 200
    assert client.request("GET", "/api/echo/a/1", key=whoami_key).status == 401
    assert client.request("POST", "/api/orchestrators/chain", key=echo_key).status == 401
    for host_key in (client.function_key, client.master_key):
        assert client.request("GET", "/api/whoami", key=host_key).status == 200
        assert client.request("GET", "/api/echo/a/1", key=host_key).status == 200
    # Never a management URL: a function key is no system key.
    assert client.request("GET", "/runtime/webhooks/durabletask/instances/",
                          key=echo_key).status == 401
    assert client.request("GET", "/admin/functions/echo/keys", key=echo_key).status == 401


def test_the_key_management_api_manages_function_keys(client: DevhostClient) -> None:
    master = {"x-functions-key": client.master_key or ""}
    listed = client.request("GET", "/admin/functions/ping/keys", headers=master)
    assert listed.status == 200
    assert [k["name"] for k in listed.json()["keys"]] == ["default"]  # made on first read
    default = listed.json()["keys"][0]["value"]
    path = "/admin/functions/ping/keys/rotated"
    assert client.request("PUT", path, headers=master, json_body={"name": "rotated"}).status == 400
    created = client.request("PUT", path, headers=master,
                             json_body={"name": "rotated", "value": "v1-" + "x" * 40})
    assert created.status == 201 and created.json()["value"] == "v1-" + "x" * 40
    replaced = client.request("POST", path, headers=master)
    assert replaced.status == 200 and replaced.json()["value"] not in ("v1-" + "x" * 40, default)
    got = client.request("GET", path, headers=master)
    assert got.json()["value"] == replaced.json()["value"]
    assert client.request("DELETE", path, headers=master).status == 204
    assert client.request("DELETE", path, headers=master).status == 404
    assert client.request("GET", path, headers=master).status == 404
    assert client.request("GET", "/admin/functions/nope/keys", headers=master).status == 404
    assert client.request("POST", "/admin/functions/nope/keys/k", headers=master).status == 404
    # Only the master key manages keys; the host's function key does not.
    assert client.request("POST", path, key=client.function_key).status == 401


def test_route_parameters_query_context_and_headers_reach_the_function(
    client: DevhostClient,
) -> None:
    response = client.call("GET", "echo/hello/42", params={"x": "1"})
    assert response.status == 200
    assert response.headers["X-Echo"] == "yes"
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "word": "hello",
        "count": 42,
        "query": {"x": "1", "code": client.function_key},
        "function": "echo",
    }
    # Decoded as Kestrel decodes a path before routing, a newline (%0A) included.
    two_lines = client.call("GET", "echo/two%0Alines/1")
    assert two_lines.status == 200 and two_lines.json()["word"] == "two\nlines", two_lines.text
    # {count:int} does not match a word; GET-only routes do not answer POST.
    assert client.call("GET", "echo/hello/many").status == 404
    assert client.call("POST", "echo/hello/42").status == 404


def test_a_failing_http_function_is_a_500_with_an_empty_body(client: DevhostClient) -> None:
    response = client.call("GET", "explode")
    assert response.status == 500
    assert response.body == b""


def test_status_of_an_unknown_instance_is_404_with_an_empty_body(client: DevhostClient) -> None:
    response = client.request(
        "GET", "/runtime/webhooks/durabletask/instances/nobody", key=client.system_key
    )
    assert response.status == 404
    assert response.body == b""
    assert client.status("nobody") is None


def test_management_api_needs_the_system_or_master_key(client: DevhostClient) -> None:
    path = "/runtime/webhooks/durabletask/instances/"
    assert client.request("GET", path).status == 401
    assert client.request("GET", path, key=client.master_key).status == 200
    assert client.request("GET", path, key=client.system_key).status == 200


def test_starting_a_running_instance_twice_gives_one_run(client: DevhostClient) -> None:
    instance = f"single-{uuid.uuid4().hex[:8]}"
    results: list[tuple[int, dict]] = []

    def start() -> None:
        response = client.call("POST", f"singleton/waiter/{instance}")
        results.append((response.status, response.json()))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(code for code, _ in results)
    assert codes == [202, 409], results
    conflict = next(body for code, body in results if code == 409)
    # start_new raises the host's 409 body; NonRunningStates refuses Pending and Running.
    assert "An Orchestration instance with the status" in conflict["error"]
    assert "already exists." in conflict["error"]
    client.wait_for_custom_status(instance, lambda c: c == "waiting")
    again = client.call("POST", f"singleton/waiter/{instance}")
    assert again.status == 409
    assert "status Running already exists" in again.json()["error"]
    # A finished instance is replaced by a fresh run.
    client.terminate(instance)
    assert client.wait_for_completion(instance)["runtimeStatus"] == "Terminated"
    replaced = client.call("POST", f"singleton/waiter/{instance}")
    assert replaced.status == 202
    status = client.wait_for_custom_status(instance, lambda c: c == "waiting")
    assert status["runtimeStatus"] == "Running"
    client.terminate(instance)


def test_the_apps_client_raises_events_as_json_text(client: DevhostClient) -> None:
    instance = client.start("approval", f"app-approve-{uuid.uuid4().hex[:8]}")
    client.wait_for_custom_status(instance, lambda c: c == {"phase": "awaiting-approval"})
    response = client.call("POST", f"approve/{instance}", json_body={"approved": True})
    assert response.status == 200, response.text
    assert response.json()["status"] in ("Running", "Completed")
    status = client.wait_for_completion(instance)
    # DurableOrchestrationClient.raise_event json.dumps the data before posting it as JSON.
    assert status["output"]["data"] == json.dumps({"approved": True})


def test_list_and_purge_instances(client: DevhostClient) -> None:
    instance = client.start("chain", f"purge-{uuid.uuid4().hex[:8]}", "x")
    client.wait_for_completion(instance)
    listed = client.list_instances(runtime_status=["Completed"], instance_id_prefix="purge-")
    assert instance in [s["instanceId"] for s in listed]
    assert client.purge(instance)
    assert client.status(instance) is None
    assert not client.purge(instance)


def test_starting_an_unknown_orchestrator_is_a_clean_400(client: DevhostClient) -> None:
    response = client.call("POST", "orchestrators/no_such_thing")
    # The app's start_new raised Exception(ExceptionMessage): the HTTP function failed.
    assert response.status == 500
    direct = client.request(
        "POST",
        "/runtime/webhooks/durabletask/orchestrators/no_such_thing",
        key=client.system_key,
    )
    assert direct.status == 400
    assert direct.json()["ExceptionMessage"].startswith(
        "The function 'no_such_thing' doesn't exist, is disabled, or is not an orchestrator "
        "function. Additional info: The following are the known orchestrator functions: 'chain'"
    )


def test_ready_file_and_instances_command(sample_host) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from devhost.testing import REPO_ROOT

    ready = json.loads((sample_host.process.state_dir / "ready.json").read_text())
    assert set(ready) >= {"base_url", "function_key", "master_key", "state_dir", "clock", "pid"}
    assert ready["pid"] == sample_host.process.pid
    assert json.loads(ready["clock"])["scale"] == 600.0
    listing = subprocess.run(
        [sys.executable, "-m", "devhost", "instances", "--state-dir", ready["state_dir"]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert listing.splitlines()[0].split()[:3] == ["INSTANCE", "ID", "STATUS"]
