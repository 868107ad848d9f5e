"""Each Safe Harbor identifier kind is detected in the forms it is written in, and ordinary
ML metadata is not flagged. All data is synthetic."""
from __future__ import annotations

import pytest

from medflow.guard import scan_text

POSITIVES = [
    # (field, key, text, expected kind)
    ("description", None, "Cohort v3 minus Kenneth Snow and Kimberly Foster (both withdrew).", "name"),
    ("param_value", "debug_patient", "SOTO^ROBERTO", "name"),
    ("tag_value", "case", "castaneda_douglas", "name"),
    ("description", None, "Excluded KNIGHT, SARAH after chart review.", "name"),
    ("run_name", None, "debug_eric_ray", "name"),
    ("metric_key", None, "risk_timothyromero", "name"),
    ("param_value", "test_patient", "은경 이", "name"),
    ("param_key", None, "excluded_patient_結衣加藤", "name"),
    ("description", None, "Note: J. Becker was mislabeled as septic.", "name"),
    ("param_value", "patient_dob", "1962-03-14", "date"),
    ("param_value", "discharge_date", "Jun. 05, 2025", "date"),
    ("param_value", "dob", "30/08/1955", "date"),
    ("param_value", "dob", "30DEC1940", "date"),
    ("tag_value", "patient_dob", "19310316", "date"),
    ("description", None, "Outlier admitted 29/11/2024 and discharged 09-Dec-2024.", "date"),
    ("param_value", "case_admit_month", "2021-08", "date"),
    ("param_value", "patient_age", "100", "age"),
    ("description", None, "A 97-year-old woman from the holdout.", "age"),
    ("param_value", "case_yob", "1928", "age"),
    ("param_value", "contact_phone", "901/753-5355", "phone"),
    ("description", None, "Call the patient back at (548) 984-6256.", "phone"),
    ("tag_value", "phone", "+15505086978", "phone"),
    ("tag_value", "pt_fax", "451-618-3715 x3382", "fax"),
    ("description", None, "Send summary to patient at cjordan@gmail.com per request.", "email"),
    ("param_value", "pt_ssn", "475-95-6419", "ssn"),
    ("param_key", None, "ssn_259-71-7839_label", "ssn"),
    ("param_value", "patient_mrn", "12169796", "mrn"),
    ("run_name", None, "readmit_pred_MRN11946394", "mrn"),
    ("param_value", "excluded_mrns", "023984633 MR23016527 M46604183 90858532", "mrn"),
    ("description", None, "Insulin pump belongs to study pt 64531077.", "mrn"),
    ("param_value", "acct_no", "ACCT-16876936", "account"),
    ("description", None, "Account HAR 77736056234 leaked the label.", "account"),
    ("description", None, "Rerun for Medicare ID 5H36-GX9-EA76; claims mismatch.", "health_plan"),
    ("param_value", "health_plan_id", "XYZ3618912697", "health_plan"),
    ("param_value", "dl_number", "MA-DL 902986789", "license"),
    ("description", None, "Death certificate BC-2001-2102826 attached.", "license"),
    ("param_value", "vin", "1HGCM82633A004352", "vehicle"),
    ("description", None, "Trauma cohort: vehicle SO 0302.", "vehicle"),
    ("tag_value", "device", "pacemaker S/N PZK443548S", "device_id"),
    ("description", None, "Validation pacemaker (628D-925E-4788) produced artefacts.", "device_id"),
    ("param_value", "case_url", "https://pacs.example-hosp.org/records/brown-johnny", "url"),
    ("description", None, "see https://mychart.example.org/chart?mrn=47600959", "url"),
    ("param_value", "patient_device_ip", "49.73.27.36", "ip"),
    ("tag_value", "wearable_sync_ip", "4bc7:aebc:d7bf:850a:dc17:3496:c3a9:64a4", "ip"),
    ("tag_value", "retina_scan_id", "RS2369761", "biometric"),
    ("param_value", "fingerprint_hash", "310dcada411c356044b55f8d9066c5b83d1d203c", "biometric"),
    ("tag_value", "patient_photo", "full-face photo of the patient", "photo"),
    ("param_value", "visit_id", "V871850799", "unique_id"),
    ("param_value", "study_uid", "1.2.840.113619.2.444.9.504653731.435.5369474802.585", "unique_id"),
    ("tag_value", "patient_address", "717 Robert Expressway Suite 519, San Diego, CA 91951", "address"),
    ("param_value", "home_zip", "96856", "zip"),
    ("description", None, "From Chicago, IL 61420, admitted last year.", "zip"),
]


@pytest.mark.parametrize("field,key,text,kind", POSITIVES)
def test_identifier_is_detected(field, key, text, kind):
    kinds = {f.kind for f in scan_text(text, field=field, key=key)}
    assert kind in kinds, f"{kind} not found in {field} (found {sorted(kinds)})"


NEGATIVES = [
    ("param_value", "training_date", "2024-03-14"),
    ("param_value", "learning_rate", "0.1"),
    ("param_value", "max_depth", "6"),
    ("param_value", "data_version", "v2.3"),
    ("param_value", "feature_set", "vitals+labs+demo"),
    ("param_value", "random_seed", "4244170011"),
    ("param_value", "bytes_read", "9008079118"),
    ("param_value", "snomed", "91302008"),
    ("param_value", "icd10_pcs", "02HV33Z"),
    ("param_value", "age_cap", "90"),
    ("param_value", "age_band", "80-89"),
    ("param_value", "zip3_bucket", "941"),
    ("param_value", "mlflow_version", "2.16.0"),
    ("param_value", "worker_ip", "10.60.37.48"),
    ("param_value", "data_path", "s3://ml-datasets-prod/cxr-pneumonia/v2/train.parquet"),
    ("param_value", "dataset_url", "https://stanfordmlgroup.github.io/competitions/chexpert/"),
    ("param_value", "statistic", "Hosmer-Lemeshow"),
    ("param_value", "subject_id", "sub-003"),
    ("param_value", "split", "85_15_by_patient"),
    ("param_value", "data_hash", "3f2a9c1b7e44"),
    ("tag_value", "mlflow.runName", "wise-mule-437"),
    ("tag_value", "mlflow.runName", "sneaky-finch-622"),
    ("tag_value", "author", "Mark Graham"),
    ("tag_value", "signed_off_by", "Deborah Gross, RN, Clinical Informatics"),
    ("tag_value", "support_email", "mlops-support@example-med.org"),
    ("run_name", None, "arima_20230112_075849"),
    ("run_name", None, "train-20230120T055018Z"),
    ("run_name", None, "gbm-v2.3-20251126"),
    ("run_name", None, "cox_ph_charlson"),
    ("metric_key", None, "auc_zip3_021"),
    ("metric_key", None, "age_over_89_share"),
    ("metric_key", None, "alerts_per_day_ward_4b"),
    ("param_key", None, "dob_column"),
    ("param_key", None, "patient_level_split"),
    ("description", None, "Mann-Whitney U test on lead times; Bonferroni corrected."),
    ("description", None, "Kaplan-Meier curves by risk decile; Cox model with Charlson index."),
    ("description", None, "Reviewed by Dr. Marcus Macdonald (CMIO) on 2025-02-22."),
    ("description", None, "Calibration by isotonic regression (20250106 to 2025-07-05)."),
    ("description", None, "Batch size 64, lr 3e-4, cosine schedule, 30 epochs on 1x A100."),
    ("description", None, "Ages above 89 are grouped as 90+; ZIP codes truncated to 3 digits."),
]


@pytest.mark.parametrize("field,key,text", NEGATIVES)
def test_ordinary_ml_metadata_is_not_flagged(field, key, text):
    assert scan_text(text, field=field, key=key) == []


def test_ssn_validity_rules():
    assert scan_text("475-95-6419", field="param_value", key="note")
    for invalid in ("000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"):
        assert not any(f.kind == "ssn" for f in scan_text(invalid, field="param_value", key="note"))


def test_vin_check_digit_decides_without_context():
    assert scan_text("1HGCM82633A004352", field="description")  # valid check digit
    assert not scan_text("1HGCM82653A004352", field="description")  # same shape, wrong check digit


def test_public_ips_flagged_private_infrastructure_not():
    assert scan_text("remote monitor at 149.255.195.164 sent data", field="description")
    assert not scan_text("ray head at 192.168.164.52:6379", field="description")


def test_offsets_point_at_the_identifier():
    text = "Excluded pt MRN 26126932 after review"
    [finding] = scan_text(text, field="description")
    assert finding.kind == "mrn" and text[finding.start:finding.end] == "26126932"
