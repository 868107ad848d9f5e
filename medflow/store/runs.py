from sqlalchemy import update

from medflow.store.schema import runs


def set_lifecycle_for_experiment(conn, experiment_id: int, stage: str, now: int) -> None:
    conn.execute(update(runs).where(runs.c.experiment_id == experiment_id)
                 .values(lifecycle_stage=stage, deleted_time=now if stage == "deleted" else None))
