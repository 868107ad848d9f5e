"""MLflow's search grammar: filter strings and order_by clauses parsed to plain data (no server)."""
from __future__ import annotations

import pytest

from medflow.errors import INVALID_PARAMETER_VALUE, MedflowError
from medflow.store.search.grammar import Condition, OrderBy, parse_filter, parse_order_by

RUN_ENTITIES = {"metric", "param", "tag", "attribute", "dataset"}


def parse(text: str) -> list[Condition]:
    return parse_filter(text, valid_entities=RUN_ENTITIES)


@pytest.mark.parametrize("text, expected", [
    ("metrics.auc > 0.8", [Condition("metric", "auc", ">", 0.8)]),
    ("metric.auc>=0.8", [Condition("metric", "auc", ">=", 0.8)]),
    ("metrics.loss < -1.5e3", [Condition("metric", "loss", "<", -1500.0)]),
    ("params.lr = '0.05'", [Condition("param", "lr", "=", "0.05")]),
    ("param.model != \"gbm\"", [Condition("param", "model", "!=", "gbm")]),
    ("parameters.x <> 'y'", [Condition("param", "x", "!=", "y")]),
    ("tags.cohort LIKE 'adult%'", [Condition("tag", "cohort", "LIKE", "adult%")]),
    ("tags.cohort ilike 'ADULT%'", [Condition("tag", "cohort", "ILIKE", "ADULT%")]),
    ("tags.mlflow.runName = 'r1'", [Condition("tag", "mlflow.runName", "=", "r1")]),
    ("tags.`mlflow.source.type` = 'LOCAL'", [Condition("tag", "mlflow.source.type", "=", "LOCAL")]),
    ('tag."my key" = \'v\'', [Condition("tag", "my key", "=", "v")]),
    ("metrics.`val loss` <= 1", [Condition("metric", "val loss", "<=", 1.0)]),
    ("params.p = 'it''s'", [Condition("param", "p", "=", "it's")]),
    ("tags.reviewed IS NULL", [Condition("tag", "reviewed", "IS", None)]),
    ("params.lr is not null", [Condition("param", "lr", "IS NOT", None)]),
    ("attributes.run_id IN ('a', 'b')", [Condition("attribute", "run_id", "IN", ("a", "b"))]),
    ("run_id NOT IN ('a')", [Condition("attribute", "run_id", "NOT IN", ("a",))]),
    ("run_name = 'x'", [Condition("attribute", "run_name", "=", "x")]),
    ("attributes.`Run name` = 'x'", [Condition("attribute", "Run name", "=", "x")]),
    ("attribute.start_time >= 1700000000000", [Condition("attribute", "start_time", ">=", 1.7e12)]),
    ("datasets.context IN ('training', 'eval')", [Condition("dataset", "context", "IN", ("training", "eval"))]),
    ("metrics.a/b > 0 and params.x:y = 'z' and metrics.m-1 > 2",
     [Condition("metric", "a/b", ">", 0.0), Condition("param", "x:y", "=", "z"),
      Condition("metric", "m-1", ">", 2.0)]),
    ("metrics.auc_roc > 0.8 AND params.learning_rate = '0.05' and tags.cohort = 'adult' "
     "and attributes.status = 'FINISHED'",
     [Condition("metric", "auc_roc", ">", 0.8), Condition("param", "learning_rate", "=", "0.05"),
      Condition("tag", "cohort", "=", "adult"), Condition("attribute", "status", "=", "FINISHED")]),
    ("", []),
    ("   ", []),
])
def test_filters_parse(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("metrics.auc >>> 1", "Invalid comparator '>>>'"),
    ("metrics.auc == 1", "Invalid comparator '=='"),
    ("metrics.auc = 1 or params.a = 'b'", "joined with AND"),
    ("metrics.auc >", "has no value"),
    ("metrics.auc", "no comparator"),
    ("params.a = b", "is not a value"),
    ("attributes.run_id IN 'a'", "needs a list"),
    ("attributes.run_id IN ('a', 1)", "quoted strings"),
    ("tags.x IS 'a'", "NULL"),
    ("metrics.auc > 1 and", "nothing after AND"),
    ("metrics.auc > 'unterminated", "unexpected text"),
])
def test_bad_filters_are_invalid_parameter_value(text, fragment):
    with pytest.raises(MedflowError) as err:
        parse(text)
    assert err.value.code == INVALID_PARAMETER_VALUE
    assert fragment in err.value.message


def test_entities_outside_the_resource_are_rejected():
    with pytest.raises(MedflowError) as err:
        parse_filter("metrics.auc > 1", valid_entities={"attribute", "tag"})
    assert "not searchable here" in err.value.message


@pytest.mark.parametrize("clause, expected", [
    ("metrics.auc DESC", OrderBy("metric", "auc", False)),
    ("metrics.auc", OrderBy("metric", "auc", True)),
    ("attributes.start_time asc", OrderBy("attribute", "start_time", True)),
    ("start_time DESC", OrderBy("attribute", "start_time", False)),
    ("metrics.`val loss` desc", OrderBy("metric", "val loss", False)),
    ('tags."mlflow.user"', OrderBy("tag", "mlflow.user", True)),
    ("params.lr DESC", OrderBy("param", "lr", False)),
])
def test_order_by_parses(clause, expected):
    assert parse_order_by([clause], valid_entities=RUN_ENTITIES) == [expected]


def test_order_by_keeps_clause_order():
    parsed = parse_order_by(["metrics.auc DESC", "params.lr"], valid_entities=RUN_ENTITIES)
    assert [(o.entity, o.key) for o in parsed] == [("metric", "auc"), ("param", "lr")]
