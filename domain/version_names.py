"""The ``VersionName`` index: which live version of a model holds a custom version name.

A model with 100,000 custom-named versions must not carry 100,000 names in its own state
(every snapshot of it would hold them all, and every load decode them). Each custom name
instead gets an entry of its own, with an id derived from the model and the name, so a
command loads just the entry it needs. The entry is saved in the same transaction as the
model's ``VersionAdded``/``VersionRenamed``/``VersionDeleted`` event; the model's stream
orders those commands, so the entry needs no lock of its own.

Models registered before this index existed keep their names in ``Model.custom_names``
(``Model.keeps_version_maps``) and never use it.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .errors import EntityExistsError, NotFoundError

__all__ = ["VersionName", "version_name_id"]


def version_name_id(model_id: UUID | str, name: str) -> UUID:
    """Id of the entry for ``name`` among the versions of one model (names are exact)."""
    return uuid5(NAMESPACE_URL, f"/modelplane/models/{model_id}/version-names/{name}")


class VersionName(Aggregate):
    """Index entry for one custom version name of one model."""

    TOPIC: ClassVar[str] = "modelplane:VersionName"

    class Created(Aggregate.Created):
        TOPIC: ClassVar[str] = "modelplane:VersionName.Created"
        model_id: str
        name: str

    class Claimed(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:VersionName.Claimed"
        model_id: str
        version_id: str

    class Released(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:VersionName.Released"
        model_id: str
        version_id: str

    @event(Created)
    def __init__(self, model_id: str, name: str) -> None:
        self.model_id = model_id
        self.name = name
        self.version_id: str | None = None

    @staticmethod
    def create_id(model_id: str, name: str) -> UUID:
        return version_name_id(model_id, name)

    def claim(self, version_id: str) -> None:
        """Give the name to a version; refused while another live version holds it."""
        if self.version_id is not None:
            msg = f"The version name '{self.name}' is held by version {self.version_id}."
            raise EntityExistsError(msg)
        self._claim(model_id=self.model_id, version_id=version_id)

    def release(self, version_id: str) -> None:
        """Free the name; only the version holding it can."""
        if self.version_id != version_id:
            raise NotFoundError(f"Version {version_id} does not hold the name '{self.name}'.")
        self._release(model_id=self.model_id, version_id=version_id)

    @event(Claimed)
    def _claim(self, model_id: str, version_id: str) -> None:
        self.version_id = version_id

    @event(Released)
    def _release(self, model_id: str, version_id: str) -> None:
        self.version_id = None
