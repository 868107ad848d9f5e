"""The key a value is logged under decides what the value is."""
from __future__ import annotations

from medflow.guard import contains_phi, scan_text
from medflow.guard.context import key_context


def test_training_date_passes_patient_dob_does_not():
    assert not scan_text("2024-03-14", field="param_value", key="training_date")
    assert scan_text("1962-03-14", field="param_value", key="patient_dob")


def test_same_number_is_an_mrn_only_under_a_patient_key():
    assert scan_text("26789777", field="param_value", key="holdout_patient_mrn")
    assert not scan_text("26789777", field="param_value", key="n_rows")


def test_modifier_words_turn_identifier_keys_into_configuration():
    assert key_context("dob_column").config
    assert key_context("age_cap").config
    assert not key_context("patient_age").config
    assert not scan_text("90", field="param_value", key="age_cap")
    assert scan_text("90", field="param_value", key="patient_age")


def test_workforce_keys_do_not_flag_staff_names():
    assert not scan_text("Dr. Jimmy Adkins", field="tag_value", key="pi")
    assert scan_text("Dr. Jimmy Adkins", field="tag_value", key="reviewed_case")


def test_pt_prefix_and_patient_words_in_identifiers():
    assert scan_text("pt_93047280", field="tag_key")
    assert scan_text("auc_pt_75845759", field="metric_key")
    assert not scan_text("patient_accuracy", field="metric_key")


def test_date_cues_in_free_text():
    assert scan_text("Patel Brian - 7/17/2018 admission", field="experiment_name")
    assert scan_text("adm 25-Oct-2021 dc 2021/11/12", field="tag_value", key="case_timeline")
    assert not scan_text("Data window: 2019-01-01 to 2023-12-31", field="description")


def test_old_full_dates_are_birth_dates():
    assert scan_text("ecg-18986494-19340205", field="experiment_name")


def test_contains_phi_accepts_the_scorers_key_equals_value_form():
    assert contains_phi("patient_dob=1962-03-14", field="param_value", key="patient_dob")
    assert not contains_phi("training_date=2024-03-14", field="param_value", key="training_date")
    assert contains_phi("patient_dob=1962-03-14", field="param_value")
