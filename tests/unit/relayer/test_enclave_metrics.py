"""The enclave's committee metrics relayed on the relayer's /metrics: the enclave's own rendering (a real
CommitteeMetrics registry) merged without a duplicate family, and nothing added when the enclave fails."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from enclave_signer.committee.metrics import CommitteeMetrics
from relayers.daemon.enclave_metrics import EnclaveMetricsRelay
from relayers.daemon.metrics import RelayerMetrics
from relayers.enclave_client import EnclaveClientError


class Enclave:
    def __init__(self, text: str | None = None, error: Exception | None = None, delay: float = 0.0) -> None:
        self.text, self.error, self.delay = text, error, delay

    async def metrics(self) -> str:
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        assert self.text is not None
        return self.text


def _committee_text() -> str:
    m = CommitteeMetrics()
    m.members_up.set(5)
    m.distrusted.set(1)
    m.skipped.labels("1", "message").inc(3)
    return m.render()


def test_the_enclave_families_are_appended_once_each() -> None:
    relayer = RelayerMetrics()
    relayer.committee_up.set(4)
    relay = EnclaveMetricsRelay(Enclave(_committee_text()), relayer.registry)
    body = (generate_latest(relayer.registry) + asyncio.run(relay.render())).decode()
    names = [f.name for f in text_string_to_metric_families(body)]  # the standard parser reads the whole page
    assert len(names) == len(set(names)), names
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(body) for s in f.samples}  # fmt: skip
    assert samples[("phala_bridge_committee_distrusted_members", ())] == 1.0
    assert samples[("phala_bridge_committee_skipped_messages_total", (("destination", "1"), ("lane", "message")))] == 3
    assert samples[("phala_bridge_committee_members_up", ())] == 4.0  # the relayer's own, not the enclave's 5


@pytest.mark.parametrize(
    "enclave",
    [
        Enclave(error=EnclaveClientError("cannot reach the enclave at /run/e.sock")),
        Enclave(text="this is { not prometheus"),
        Enclave(text="", delay=5.0),
    ],
    ids=["unreachable", "garbage", "too-slow"],
)
def test_an_enclave_that_cannot_answer_adds_nothing(enclave: Enclave) -> None:
    relay = EnclaveMetricsRelay(enclave, RelayerMetrics().registry, timeout=0.2)
    assert asyncio.run(relay.render()) == b""
