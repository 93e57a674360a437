"""The sync's memory, in the API server's database: watched folders, the files sent, page tokens, the last run."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from servers.api.models import DriveFile, DriveFolder, DriveState, utcnow

LAST_RUN = "last_run"


def scope_key(drive_id: str | None) -> str:
    """Page tokens are per change log: the user's (My Drive and shared with me) or one shared drive's."""
    return drive_id or "user"


class DriveStore:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def folders(self) -> list[DriveFolder]:
        with self.sessions() as session:
            return list(session.scalars(select(DriveFolder).order_by(DriveFolder.added_at)))

    def files(self) -> dict[str, DriveFile]:
        with self.sessions() as session:
            return {file.id: file for file in session.scalars(select(DriveFile))}

    def file(self, file_id: str) -> DriveFile | None:
        with self.sessions() as session:
            return session.get(DriveFile, file_id)

    def files_through(self, shortcut_id: str) -> list[DriveFile]:
        with self.sessions() as session:
            return list(session.scalars(select(DriveFile).where(DriveFile.shortcut_id == shortcut_id)))

    def save_file(self, **values) -> None:
        with self.sessions() as session:
            session.merge(DriveFile(**values, synced_at=utcnow()))
            session.commit()

    def forget_file(self, file_id: str) -> None:
        with self.sessions() as session:
            session.execute(delete(DriveFile).where(DriveFile.id == file_id))
            session.commit()

    def get(self, key: str) -> dict | None:
        with self.sessions() as session:
            state = session.get(DriveState, key)
            return state.value if state else None

    def put(self, key: str, value: dict | None) -> None:
        with self.sessions() as session:
            if value is None:
                session.execute(delete(DriveState).where(DriveState.key == key))
            else:
                session.merge(DriveState(key=key, value=value))
            session.commit()

    def page_token(self, drive_id: str | None) -> str | None:
        return (self.get(f"page_token:{scope_key(drive_id)}") or {}).get("token")

    def save_page_token(self, drive_id: str | None, token: str | None) -> None:
        self.put(f"page_token:{scope_key(drive_id)}", {"token": token} if token else None)

    def known_folders(self, drive_id: str | None) -> set[str]:
        """Folders found under the watched ones at the last crawl (a change to one calls for a new crawl)."""
        return set((self.get(f"folders:{scope_key(drive_id)}") or {}).get("ids", []))

    def save_known_folders(self, drive_id: str | None, ids: set[str]) -> None:
        self.put(f"folders:{scope_key(drive_id)}", {"ids": sorted(ids)})
