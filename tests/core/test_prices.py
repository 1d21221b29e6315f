"""Turn costs from genai-prices' maintained table, the config's overrides, and local models."""

from __future__ import annotations

import logging

from bot.config import load_settings
from bot.llm.local.backend import CAPABILITIES as LOCAL
from bot.llm.openai.backend import capabilities
from bot.prices import ModelPrice, PriceTable, dollars
from bot.types import Usage
from bot.wiring import price_table

MILLION = 1_000_000


def test_a_known_model_is_priced_from_the_maintained_table():
    table = PriceTable({}, maintained=True, provider="openai")
    # gpt-4o-mini: $0.15 per million tokens in, $0.60 out, cached input at half price.
    assert table.cost("gpt-4o-mini", Usage(MILLION, 0)) == 150_000
    assert table.cost("gpt-4o-mini", Usage(0, MILLION)) == 600_000
    assert table.cost("gpt-4o-mini", Usage(MILLION, 0, cached_input_tokens=MILLION // 2)) == 112_500


def test_the_config_file_overrides_the_table_per_model(tmp_path):
    config = tmp_path / "parley.toml"
    config.write_text('[prices."gpt-4o-mini"]\ninput = 1.0\noutput = 2.0\ncached_input = 0.5\n')
    table = price_table(load_settings(config), capabilities(official=True))
    assert table.cost("gpt-4o-mini", Usage(1000, 500, cached_input_tokens=200)) == 800 + 100 + 1000
    assert dollars(table.cost("gpt-4o-mini", Usage(MILLION, MILLION))) == "$3.00"


def test_local_models_cost_nothing_unless_priced():
    priced = {"tiny": ModelPrice(input=0.1, output=0.2)}
    assert price_table(load_settings(), LOCAL).cost("gpt-4o-mini", Usage(MILLION, MILLION)) == 0
    assert PriceTable(priced, maintained=False).cost("tiny", Usage(MILLION, MILLION)) == 300_000


def test_an_unknown_model_costs_nothing_and_is_named_once(caplog):
    table = PriceTable({}, maintained=True)
    with caplog.at_level(logging.WARNING, logger="bot.prices"):
        costs = [table.cost("my-own-model-xyz", Usage(10, 10)) for _ in range(3)]
    assert costs == [0, 0, 0]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and '[prices."my-own-model-xyz"]' in warnings[0]


def test_warming_looks_the_model_up_at_start_so_no_turn_does(caplog):
    table = PriceTable({}, maintained=True)
    with caplog.at_level(logging.WARNING, logger="bot.prices"):
        table.warm("my-warmed-model-xyz")
        named_at_start = len(caplog.records)
        assert table.cost("my-warmed-model-xyz", Usage(10, 10)) == 0
    assert named_at_start == 1 and len(caplog.records) == 1
