"""Association reads ask for up to `association_batch_size` ids a call and still page each id's associations."""

from __future__ import annotations

import pytest

from connector.errors import ConnectorConfigError
from sandbox import SandboxServer
from tests.connector.test_hubspot_support import connector_for, contacts, settings_for, unlimited

READ = "POST /crm/v4/associations/contacts/companies/batch/read"


def test_a_page_of_ids_goes_in_one_call_and_splits_at_the_configured_size(sandbox: SandboxServer) -> None:
    unlimited(sandbox)
    store = sandbox.store
    people = store.hs_insert_many("contacts", contacts(450))
    firms = store.hs_insert_many("companies", [{"name": "Acme"}, {"name": "Globex"}])
    for n, p in enumerate(people):
        store.hs_associate("contacts", p.id, "companies", firms[n % 2].id, 279)
    # stored from the company's side: read from the contact's side as the inverse type
    store.hs_associate("companies", firms[1].id, "contacts", people[0].id, 280)
    ids = [str(p.id) for p in people]
    expected = {str(p.id): [str(firms[n % 2].id)] for n, p in enumerate(people)}
    expected[ids[0]] = [str(firms[0].id), str(firms[1].id)]
    with connector_for(sandbox) as hub:
        assert hub.associations("contacts", ids, "companies") == expected
        assert hub.calls.snapshot() == {READ: 1}
    with connector_for(sandbox, association_batch_size=200) as hub:
        assert hub.associations("contacts", ids, "companies") == expected
        assert hub.calls.snapshot() == {READ: 3}  # 200 + 200 + 50


def test_ids_asked_twice_or_without_links_keep_their_place(sandbox: SandboxServer) -> None:
    store = sandbox.store
    people = store.hs_insert_many("contacts", contacts(3))
    firm = store.hs_insert("companies", {"name": "Acme"})
    store.hs_associate("contacts", people[1].id, "companies", firm.id, 279)
    store.hs_associate("contacts", people[1].id, "companies", firm.id, 1)  # primary too: one id back
    ids = [str(people[1].id), str(people[0].id), str(people[1].id), str(people[2].id)]
    with connector_for(sandbox) as hub:
        links = hub.associations("contacts", ids, "companies")
    assert links == {str(people[1].id): [str(firm.id)], str(people[0].id): [], str(people[2].id): []}
    assert list(links) == [str(people[1].id), str(people[0].id), str(people[2].id)]


@pytest.mark.parametrize("size", [0, 1001])
def test_association_batch_size_is_bounded_by_the_api(sandbox: SandboxServer, size: int) -> None:
    with pytest.raises(ConnectorConfigError, match="association_batch_size must be"):
        settings_for(sandbox, association_batch_size=size)
