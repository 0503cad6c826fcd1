"""`Json` request bodies are sent as the generated client would have serialised them, without its walk."""

from __future__ import annotations

import json

from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    Configuration,
    PublicFetchAssociationsBatchRequest,
)

from connector.accounting import CallLog
from connector.hubspot.client import HubSpotApis, Json
from sandbox import SandboxServer
from tests.connector.test_hubspot_support import settings_for


def test_a_json_body_serialises_as_the_model_it_stands_for(sandbox: SandboxServer) -> None:
    apis = HubSpotApis(settings_for(sandbox), calls=CallLog())
    try:
        client = apis.associations_batch.api_client
        config = Configuration()
        config.client_side_validation = False
        model = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id="1", local_vars_configuration=config),
                PublicFetchAssociationsBatchRequest(id="2", after="abc", local_vars_configuration=config),
            ],
            local_vars_configuration=config,
        )
        body = Json(inputs=[{"id": "1"}, {"id": "2", "after": "abc"}])
        assert client.sanitize_for_serialization(body) is body  # not walked
        assert json.dumps(client.sanitize_for_serialization(body)) == json.dumps(
            client.sanitize_for_serialization(model)
        )
        plain = {"inputs": [{"id": "1"}]}  # anything else is still walked as before
        assert client.sanitize_for_serialization(plain) == plain
        assert client.sanitize_for_serialization(plain) is not plain
    finally:
        apis.close()
