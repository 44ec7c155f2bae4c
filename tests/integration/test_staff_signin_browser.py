"""Staff sign in as themselves, in a real headless Chromium, against a real broker, worker and OIDC provider.

- Nurse Ada signs in with her password, sees only her ward's alert, clicks
  Acknowledge, and the `alert-acks` record and the worker's `acknowledged`
  alert name her (with her account and role), not text typed into a box.
- Sam (ops) sees the alerts without patient values and no buttons.
- Charge nurse Chen signs in through the hospital's OpenID Connect provider (a
  real local provider, `oidc-provider-mock`) and sees both wards of his unit.
"""

from __future__ import annotations

import orjson
import pytest

from streams.identity.passwords import hash_password
from streams.identity.roles import Role
from streams.identity.users import User, UsersFile
from tests.conftest import ARTIFACTS, consume_sync, produce_sync
from tests.integration.test_console_browser import driver, wait_for  # noqa: F401  driver: the browser fixture, by name
from tests.integration.test_pipeline import drifting_patient

pytestmark = pytest.mark.integration

PASSWORD = "a long ward password"
ON_7A, ON_7B = "MRN-7A-0001", "MRN-7B-0002"


def ward_batches(pid: str, ward: str, size: int = 60) -> list[tuple[bytes, bytes]]:
    samples = drifting_patient(pid)
    return [
        (
            pid.encode(),
            orjson.dumps({"patient_id": pid, "device_id": "wear-1", "ward": ward, "samples": samples[i : i + size]}),
        )
        for i in range(0, len(samples), size)
    ]


@pytest.fixture
def oidc_provider():
    mock = pytest.importorskip("oidc_provider_mock")
    with mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def sign_in(drv, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    drv.get(f"{base}/console")
    wait_for(lambda: drv.current_url.endswith("/console/login"), 20, "the sign-in page")
    drv.find_element(By.ID, "username").send_keys(username)
    drv.find_element(By.ID, "password").send_keys(PASSWORD)
    drv.find_element(By.ID, "signin").click()
    try:
        wait_for(lambda: drv.current_url.endswith("/console"), 20, "the console page")
    except AssertionError:
        raise AssertionError(f"{drv.current_url}: {drv.page_source[:2000]}") from None
    wait_for(
        lambda: drv.find_element(By.TAG_NAME, "body").get_attribute("data-conn") == "conn-live",
        30,
        "the live stream after sign-in",
    )


def sign_out(drv) -> None:
    from selenium.webdriver.common.by import By

    drv.find_element(By.ID, "signout").click()
    wait_for(lambda: drv.current_url.endswith("/console/login"), 20, "the sign-in page after sign-out")


def test_sign_in_roles_and_an_ack_by_the_signed_in_person(
    broker,
    worker_factory,
    driver,  # noqa: F811  the fixture imported above
    oidc_provider,
    tmp_path,
):
    from selenium.webdriver.common.by import By

    users = UsersFile(tmp_path / "users.json")
    users.set_unit("medicine", ("7A", "7B"))
    digest = hash_password(PASSWORD)
    users.put(User("ada", "Nurse Ada", Role.NURSE, ("7A",), password_hash=digest))
    users.put(User("sam", "Sam Ops", Role.OPS, password_hash=digest))
    users.put(User("chen", "Charge nurse Chen", Role.CHARGE_NURSE, unit="medicine", sso="chen@hospital.example"))
    worker = worker_factory(
        WARDWATCH_USERS_FILE=str(users.path),
        WARDWATCH_OIDC_ISSUER=oidc_provider,
        WARDWATCH_OIDC_CLIENT_ID="wardwatch-console",
        WARDWATCH_OIDC_CLIENT_SECRET="s3cret",
    )
    base = f"http://127.0.0.1:{worker.web_port}"
    ARTIFACTS.mkdir(exist_ok=True)

    messages = ward_batches(ON_7A, "7A") + ward_batches(ON_7B, "7B")
    produce_sync(broker.bootstrap, "vitals", messages)
    worker.wait_metric("wardwatch_samples_processed_total", sum(len(orjson.loads(v)["samples"]) for _, v in messages))

    # Nurse Ada: her ward only; the page shows who she is and no free-text name box.
    sign_in(driver, base, "ada")
    mine = f'.card[data-patient-id="{ON_7A}"]'
    card = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, mine), 60, "Ada's ward's alert")[0]
    assert not driver.find_elements(By.CSS_SELECTOR, f'.card[data-patient-id="{ON_7B}"]')
    assert driver.find_element(By.ID, "me-name").text == "Nurse Ada"
    assert not driver.find_element(By.ID, "by").is_displayed()
    alert_id = card.get_attribute("data-alert-id")
    card.find_element(By.CSS_SELECTOR, 'button[data-action="acknowledge"]').click()
    acks = consume_sync(broker.bootstrap, "alert-acks", lambda rs: any(r["alert_id"] == alert_id for r in rs))
    ack = next(r for r in acks if r["alert_id"] == alert_id)
    assert (ack["by"], ack["by_user"], ack["role"], ack["auth"], ack["source"]) == (
        "Nurse Ada",
        "ada",
        "nurse",
        "password",
        "console",
    )
    alerts = consume_sync(
        broker.bootstrap,
        "alerts",
        lambda rs: any(r["alert_id"] == alert_id and r["status"] == "acknowledged" for r in rs),
    )
    acked = next(r for r in alerts if r["alert_id"] == alert_id and r["status"] == "acknowledged")
    assert acked["acknowledged_by"] == "Nurse Ada"
    driver.save_screenshot(str(ARTIFACTS / "console-signed-in-nurse.png"))
    sign_out(driver)

    # Sam (ops): every ward, no patient ids or values, no buttons.
    sign_in(driver, base, "sam")
    wait_for(lambda: driver.find_element(By.ID, "me-name").text == "Sam Ops", 20, "the ops sign-in")
    cards = wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, ".card")) >= 2, 30, "ops cards")
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, "button[data-action]"), 20, "read-only cards")
    page = driver.find_element(By.TAG_NAME, "body").text
    assert cards and ON_7A not in page and ON_7B not in page and "SpO2" not in page
    sign_out(driver)

    # Charge nurse Chen through the hospital's provider: both wards of his unit.
    driver.find_element(By.ID, "sso").click()
    wait_for(lambda: driver.find_elements(By.NAME, "sub"), 20, "the provider's sign-in form")
    driver.find_element(By.NAME, "sub").send_keys("chen@hospital.example")
    driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]:not([name])').click()
    try:
        wait_for(
            lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-conn") == "conn-live",
            30,
            "the console after single sign-on",
        )
    except AssertionError:
        raise AssertionError(f"{driver.current_url}: {driver.page_source[:1500]}\n{worker.log()[-3000:]}") from None
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f'.card[data-patient-id="{ON_7B}"]'), 30, "ward 7B")
    assert driver.find_element(By.ID, "me-name").text == "Charge nurse Chen"
    driver.save_screenshot(str(ARTIFACTS / "console-signed-in-sso.png"))
