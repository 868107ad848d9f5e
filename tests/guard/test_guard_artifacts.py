"""Artifacts: headers and keys give cells their meaning; images are not scanned."""
from __future__ import annotations

import json

from medflow.guard import GuardConfig, scan_artifact


def kinds(findings):
    return {f.kind for f in findings}


def test_mrn_column_of_8_digit_numbers_is_phi():
    data = b"mrn,admit_date,los_days,pred\n76592239,2018-02-07,18,0.208\n75495924,2022-11-17,10,0.761\n"
    found = scan_artifact("holdout_head.csv", data)
    assert {"mrn", "date"} <= kinds(found)
    assert {f.location for f in found} == {"line 2", "line 3"}


def test_same_numbers_under_an_ordinary_header_are_not():
    data = b"row_id,n_encounters,auc\n0,76592239,0.73\n1,75495924,0.71\n"
    assert scan_artifact("monitoring.csv", data) == []


def test_csv_names_and_quoted_cells():
    data = b'patient,visit_id,y_prob\n"DAWSON, JEFFERY",V230642134,0.616\nMrs. Salinas,V875408119,0.0\n'
    found = scan_artifact("eval_examples.csv", data)
    assert {"name", "unique_id"} <= kinds(found)
    text = data.decode()
    assert any(text[f.start:f.end] == "DAWSON, JEFFERY" for f in found)


def test_aggregate_csv_is_clean():
    data = (b"age_band,sex,n,auc,ppv\n18-44,F,14544,0.795,0.362\n80-89,M,5558,0.885,0.194\n"
            b"90+,F,15884,0.755,0.143\n")
    assert scan_artifact("subgroup_metrics.csv", data) == []


def test_json_keys_are_context():
    doc = {"inputs": [{"age": 104, "sex": "F", "heart_rate": 72}]}
    assert kinds(scan_artifact("input_example.json", json.dumps(doc).encode())) == {"age"}
    doc["inputs"][0]["age"] = 49
    assert scan_artifact("input_example.json", json.dumps(doc).encode()) == []


def test_fhir_patient_resource():
    doc = {"resourceType": "Patient", "id": "K97905554",
           "name": [{"family": "Rodriguez", "given": ["Jordan"]}], "birthDate": "1943-05-02",
           "address": [{"line": ["756 Campos Summit"], "city": "Grand Rapids", "postalCode": "48954"}]}
    found = kinds(scan_artifact("sample_payload.json", json.dumps(doc, indent=1).encode()))
    assert {"mrn", "name", "date", "address", "zip"} <= found


def test_model_card_and_metrics_are_clean():
    card = {"model": "sepsis-ews", "version": "3.2.0", "training_data": {
        "source": "EHR extract (de-identified)", "window": "2016-01-01/2022-12-31", "n_patients": 77398},
        "owner": "Clinical AI team", "approved": "2025-10-15"}
    assert scan_artifact("model_card.json", json.dumps(card).encode()) == []
    mlmodel = (b"artifact_path: sepsis-model\nflavors:\n  sklearn:\n    sklearn_version: 1.4.2\n"
               b"mlflow_version: 2.16.0\nmodel_uuid: 4f1c2b0e9d8a4b7c8e2f1a0b9c8d7e6f\n"
               b"run_id: 84c426efb580b9a21d97d0e953d2deeb\nsignature:\n  inputs: '[{\"type\": \"double\", "
               b"\"name\": \"age\"}, {\"type\": \"double\", \"name\": \"lactate\"}]'\n"
               b"utc_time_created: '2025-11-26 14:03:11.532118'\n")
    assert scan_artifact("MLmodel", mlmodel) == []


def test_text_logs_key_value_context():
    log = b"record dump\nname: Hahn Franco\ndrivers_license: 296942294\nstatus: excluded\n"
    found = scan_artifact("train.log", log)
    assert {"name", "license"} <= kinds(found)
    clean = b"2024-01-03 07:17:57 INFO epoch=0 loss=0.6000 val_auc=0.7200\n" * 3
    assert scan_artifact("train.log", clean) == []


def test_images_and_binaries_are_not_scanned():
    assert scan_artifact("faces/frontal.jpg", b"\xff\xd8\xff\xe0 John Smith 475-95-6419") == []
    assert scan_artifact("model.bin", b"\x00\x01 John Smith 475-95-6419") == []


def test_scan_limit_is_respected():
    data = b"epoch,loss\n" + b"1,0.5\n" * 2000 + b"ssn,475-95-6419\n"
    assert scan_artifact("long.csv", data) != []
    assert scan_artifact("long.csv", data, GuardConfig(max_artifact_scan_bytes=1024)) == []


def test_notebook_cells_and_outputs():
    notebook = {"cells": [
        {"cell_type": "code", "source": ["import mlflow\n", "mlflow.log_param('lr', 0.1)\n"], "outputs": []},
        {"cell_type": "code", "source": "print(row)", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["ok\n", "MRN 12345678 Kimberly Foster\n"]}]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    found = scan_artifact("explore.ipynb", json.dumps(notebook).encode())
    assert {"mrn", "name"} <= kinds(found)
    assert {f.location for f in found} == {"cell 2 output line 2"}
