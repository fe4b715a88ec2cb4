"""infra/ without Azure: every Bicep file parses (pycep-parser), the roles it creates come from
infra/roles/*.json and are assigned where infra/role-assignments.json says, and the Function App
gets every app setting vmdr.settings requires in Azure and none that is local-only."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from vmdr.settings import APP_SETTINGS, local_only, required_in_azure

INFRA = Path(__file__).resolve().parents[2] / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
ROLE_FILES = sorted((INFRA / "roles").glob("*.json"))
# Settings the Functions host reads itself (telemetry), not vmdr (vmdr.settings declares the
# connection string, which vmdr/telemetry.py reads too).
HOST_SETTINGS = {"APPLICATIONINSIGHTS_AUTHENTICATION_STRING"}


def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def walk(node: Any):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_there_is_a_main_and_its_modules():
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert {"main.bicep", "modules/function-app.bicep", "modules/storage.bicep",
            "modules/alerts.bicep"} <= names


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_bicep_file_parses(path):
    document = parse(path)
    assert document.get("resources") or document.get("modules"), f"{path} declares nothing"


def test_every_module_main_uses_exists():
    main = parse(INFRA / "main.bicep")
    for name, module in main["modules"].items():
        assert (INFRA / module["detail"]["path"]).is_file(), name


def test_parameters_are_described_and_main_parameters_json_names_real_ones():
    main = parse(INFRA / "main.bicep")
    for name, parameter in main["parameters"].items():
        kinds = {d["type"] for d in parameter["decorators"]}
        assert "description" in kinds, f"parameter {name} has no @description"
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(given) <= set(main["parameters"])
    required = {n for n, p in main["parameters"].items() if p.get("default") is None}
    assert required <= set(given), f"azd cannot fill {sorted(required - set(given))}"


# ----------------------------------------------------------------------------------- roles
def _role_entries() -> list[dict[str, Any]]:
    return parse(INFRA / "main.bicep")["variables"]["vmdrRoles"]["value"]


def test_the_roles_bicep_creates_are_read_from_their_json_files():
    entries = _role_entries()
    loaded = [e["definition"]["function"] for e in entries]
    assert all(f["type"] == "load_json_content" for f in loaded)
    assert sorted(f["parameters"]["file_path"] for f in loaded) == sorted(
        f"roles/{p.name}" for p in ROLE_FILES)
    assert [e["key"] for e in entries] == [Path(f["parameters"]["file_path"]).stem
                                           for f in loaded]
    # The definitions take every permission list from the loaded JSON, none written inline.
    definitions = parse(INFRA / "main.bicep")["resources"]["roleDefinitions"]["config"]
    assert definitions["loop_type"]["detail"]["array_name"] == "vmdrRoles"
    permissions = definitions["config"]["properties"]["permissions"][0]
    for key, field in (("actions", "Actions"), ("notActions", "NotActions"),
                       ("dataActions", "DataActions"), ("notDataActions", "NotDataActions")):
        accessor = permissions[key]["operator"]["operands"]
        assert accessor["operand_1"] == "role"
        assert accessor["operand_2"]["operator"]["operands"] == {"operand_1": "definition",
                                                                "operand_2": field}


def test_no_bicep_file_spells_an_rbac_action():
    action = re.compile(r"'Microsoft\.\w+/[\w/*]+/(read|write|delete|action)'", re.IGNORECASE)
    for path in BICEP_FILES:
        assert not action.search(path.read_text()), f"{path} has an action list of its own"


def test_each_role_file_is_valid_custom_role_json():
    for path in ROLE_FILES:
        role = json.loads(path.read_text())
        assert {"Name", "Description", "Actions", "NotActions", "DataActions",
                "NotDataActions"} <= set(role), path
        assert role["IsCustom"] is True and role["Actions"], path
        assert not any("*" in a for a in role["Actions"]), f"{path}: no wildcards"
        assert len(role["Actions"]) == len(set(role["Actions"])), path


DESCRIPTION = json.loads((INFRA / "role-assignments.json").read_text())


def test_the_assignment_description_names_every_role_file_and_real_bicep_scopes():
    """infra/role-assignments.json: every role file, only role files; each scope kind is a
    parameter of main.bicep assigned through modules/rbac/{level}.bicep; a `when` is a bool."""
    assert {a["role"] for a in DESCRIPTION["assignments"]} == {p.name for p in ROLE_FILES}
    assert {a["scope"] for a in DESCRIPTION["assignments"]} == set(DESCRIPTION["scopes"])
    parameters = parse(INFRA / "main.bicep")["parameters"]
    for kind, scope in DESCRIPTION["scopes"].items():
        assert scope["parameter"] in parameters, kind
        assert (INFRA / "modules" / "rbac" / f"{scope['level']}.bicep").is_file(), kind
    for assignment in DESCRIPTION["assignments"]:
        if "when" in assignment:
            assert parameters[assignment["when"]]["type"] == "bool", assignment


def _mentions(node: Any, variables: dict[str, Any]) -> str:
    """The JSON of `node` with every variable it names expanded (to a fixpoint), so that a scope
    built from `secondarySubscriptionId` shows the parameter that variable comes from."""
    text, seen = json.dumps(node), set()
    while True:
        named = {v for v in variables if v not in seen and re.search(rf"\b{v}\b", text)}
        if not named:
            return text
        seen |= named
        text += "".join(json.dumps(variables[v]) for v in sorted(named))


def _bicep_assignments() -> list[tuple[str, str, str | None]]:
    """(role file, scope kind, switch) of each module of main.bicep that assigns a vmdr role: the
    role by its index in vmdrRoles, the kind by the module (modules/rbac/{level}.bicep) and the
    parameter its scopes come from, the switch by a loop over `(switch ? ids : [])`."""
    main = parse(INFRA / "main.bicep")
    keys = [e["key"] for e in _role_entries()]
    found = []
    for name, module in main["modules"].items():
        config = module["config"]
        body = config.get("config", config)
        reference = body.get("params", {}).get("roleDefinitionId")
        if reference is None:
            continue
        indexes = [n["operator"]["operands"]["operand_2"] for n in walk(reference)
                   if isinstance(n, dict) and n.get("operator", {}).get("type") == "index_accessor"
                   and n["operator"]["operands"]["operand_1"] == "roleDefinitions"]
        assert len(indexes) == 1, name
        path = Path(module["detail"]["path"])
        assert path.parent.as_posix() == "modules/rbac", name
        loop = (config.get("loop_type") or {}).get("detail", {}).get("array_name")
        switch = None
        if isinstance(loop, dict):  # (assignFailbackRole ? primaryResourceGroupIds : [])
            operands = loop["operator"]["operands"]
            assert operands["false_value"] == [], name
            switch, loop = operands["condition"], operands["true_value"]
        where = _mentions([loop, body.get("scope")], main["variables"])
        kinds = [kind for kind, scope in DESCRIPTION["scopes"].items()
                 if scope["level"] == path.stem and (
                     scope["parameter"] == loop if loop else
                     re.search(rf"\b{scope['parameter']}\b", where))]
        assert len(kinds) == 1, f"{name}: scope kinds {kinds}"
        found.append((f"{keys[indexes[0]]}.json", kinds[0], switch))
    return found


def test_each_role_is_assigned_where_it_belongs():
    """main.bicep assigns exactly the (role, scope kind) pairs of infra/role-assignments.json,
    which the local platform gives armsim's `vmdr` principal. Bicep keeps its own module blocks:
    each is tied at compile time to a module file and a scope function, and loadJsonContent
    takes only literal paths, so the JSON could only choose role indexes, not blocks."""
    described = [(a["role"], a["scope"], a.get("when")) for a in DESCRIPTION["assignments"]]
    assert sorted(_bicep_assignments(), key=str) == sorted(described, key=str)


# ---------------------------------------------------------------------------- app settings
def _app_settings() -> dict[str, Any]:
    site = parse(INFRA / "modules/function-app.bicep")["resources"]["functionApp"]
    assert site["type"] == "Microsoft.Web/sites"
    settings = site["config"]["properties"]["siteConfig"]["appSettings"]
    names = [s["name"] for s in settings]
    assert len(names) == len(set(names)), "a setting set twice"
    return {s["name"]: s["value"] for s in settings}


def test_the_function_app_gets_every_setting_vmdr_requires_in_azure():
    settings = _app_settings()
    missing = set(required_in_azure()) - set(settings)
    assert not missing, f"infra/modules/function-app.bicep does not set {sorted(missing)}"


def test_the_function_app_gets_no_local_only_or_unknown_setting():
    settings = _app_settings()
    assert not set(settings) & set(local_only()), "a key, static token or local CA in Azure"
    unknown = set(settings) - {s.name for s in APP_SETTINGS} - HOST_SETTINGS
    assert not unknown, f"settings vmdr.settings does not declare: {sorted(unknown)}"
    # Flex Consumption refuses these as app settings (the runtime is in functionAppConfig).
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & set(settings)


def test_storage_and_identity_settings_use_the_user_assigned_identity():
    settings = _app_settings()
    parameters = parse(INFRA / "modules/function-app.bicep")["parameters"]
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == settings["AZURE_CLIENT_ID"] \
        == "identityClientId"
    for name in ("AzureWebJobsStorage__accountName", "TaskHubName", "VMDR_PROTECT_TICK",
                 "VMDR_CATALOG_CONTAINER"):
        assert settings[name] in parameters, f"{name} is not taken from a parameter"
    storage = parse(INFRA / "modules/storage.bicep")["resources"]["storage"]["config"]
    assert storage["properties"]["allowSharedKeyAccess"] is False
    assert storage["properties"]["allowBlobPublicAccess"] is False


def test_the_action_group_fetches_the_alert_functions_own_key_at_deployment():
    """The webhook carries the key of the alert function only — a function key opens its own
    function (learn.microsoft.com, "Work with access keys in Azure Functions") — never the host's
    default key, which opens every route; the key is made by the Bicep, its value left to
    Functions, and read by listKeys of that function."""
    alerts = parse(INFRA / "modules/alerts.bicep")
    resources, parameters = alerts["resources"], alerts["parameters"]
    receivers = resources["actionGroup"]["config"]["properties"]["webhookReceivers"]["operator"]
    assert receivers["type"] == "conditional"
    assert receivers["operands"]["condition"] == "wireAlertWebhook"
    assert receivers["operands"]["false_value"] == []
    [receiver] = receivers["operands"]["true_value"]
    assert receiver["useCommonAlertSchema"] is True
    uri = receiver["serviceUri"]
    assert uri.endswith("/api/alerts?code=${listKeys(alertFunction.id, '2024-04-01')"
                        "[alertKeyName]}"), uri
    text = (INFRA / "modules/alerts.bicep").read_text()
    assert "host/default" not in text and "functionKeys" not in text, "the host's key"
    function, key = resources["alertFunction"], resources["alertKey"]
    assert function["type"] == "Microsoft.Web/sites/functions" and function["existing"]
    assert function["config"]["parent"] == "functionApp"
    assert function["config"]["name"] == "alertFunctionName"
    assert key["type"] == "Microsoft.Web/sites/functions/keys" and not key["existing"]
    assert key["config"]["condition"] == "wireAlertWebhook"
    assert key["config"]["config"] == {"parent": "alertFunction", "name": "alertKeyName"}
    assert parameters["alertKeyName"]["default"] == "alerts"
    assert "alertKey" in resources["actionGroup"]["config"]["dependsOn"]
    # The function named is the one the app serves /api/alerts with.
    from tests.app_index import http_routes

    served = {r.function for r in http_routes() if r.template == "alerts"}
    assert served == {parameters["alertFunctionName"]["default"]}
    main = parse(INFRA / "main.bicep")
    assert main["modules"]["alerts"]["config"]["params"]["wireAlertWebhook"] == "wireAlertWebhook"
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert given["wireAlertWebhook"]["value"] == "${VMDR_WIRE_ALERT_WEBHOOK=false}"
    rule = resources["availability"]["config"]
    assert rule["config"]["properties"]["targetResourceType"] == \
        "Microsoft.Compute/virtualMachines"
    assert not re.search(r"code=[0-9A-Za-z_\-]{20,}", "".join(
        p.read_text() for p in INFRA.rglob("*") if p.is_file())), "a key written in a file"


def test_entra_id_turns_on_app_service_authentication_and_tells_vmdr():
    app = parse(INFRA / "modules/function-app.bicep")["resources"]
    auth = app["authentication"]["config"]
    assert app["authentication"]["type"] == "Microsoft.Web/sites/config"
    assert auth["config"]["name"] == "authsettingsV2"
    properties = auth["config"]["properties"]
    assert properties["platform"]["enabled"] is True
    # Unauthenticated requests reach the app: the alert webhook signs in to nothing, and vmdr
    # refuses operator routes without a principal itself (vmdr/api/access.py).
    assert properties["globalValidation"]["unauthenticatedClientAction"] == "AllowAnonymous"
    aad = properties["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True and aad["registration"]["clientId"] == "entraClientId"
    text = (INFRA / "modules/function-app.bicep").read_text()
    assert "name: 'VMDR_EASY_AUTH'\n          value: empty(entraClientId) ? 'false' : 'true'" \
        in text
    main = parse(INFRA / "main.bicep")
    assert main["modules"]["functionApp"]["config"]["params"]["entraClientId"] == \
        "entraClientId"
