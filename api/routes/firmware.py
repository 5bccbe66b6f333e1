"""Updates over Wi-Fi: staff publish firmware versions (uploaded or built here, signed with
the deployment's key) and ask a meter to run one; meters download the archive over HTTPS.
The logic is in api/firmware.py; the meter's side in firmware/update.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from citizenwatt.firmware import update, wire
from citizenwatt.i18n import N_

from .. import admin
from .. import firmware as fw
from ..deps import AllSettings, AssociationAdmin, Db, Now, StaffMember, Who, require_staff
from ..errors import ERROR_RESPONSES, ApiError
from ..models import FirmwareRelease, Meter
from ..schemas import METER_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["firmware"], responses=ERROR_RESPONSES)
# What the meters download, beside /api/v1 (whose every address asks who is calling first):
# no sign-in, the archive is signed.
public_router = APIRouter(tags=["firmware"], responses=ERROR_RESPONSES)

Version = Annotated[str, Path(min_length=1, max_length=update.MAX_VERSION,
                              pattern=r"^[A-Za-z0-9.+_-]+$")]


class ReleaseOut(BaseModel):
    version: str
    sha256: str
    size: int
    signature: str
    created_utc: float
    created_by: str
    origin: str


class UpdateIn(BaseModel):
    version: str = Field(min_length=1, max_length=update.MAX_VERSION)


class UpdateOut(BaseModel):
    meter_id: str
    version: str
    requested_utc: float


class KeyOut(BaseModel):
    public_key: str = Field(description="Ed25519 public key, hex: each meter's update_key.")


def release_out(r: FirmwareRelease) -> ReleaseOut:
    return ReleaseOut(version=r.version, sha256=r.sha256, size=r.size, signature=r.signature,
                      created_utc=r.created_utc, created_by=r.created_by, origin=r.origin)


@router.get("/firmware", response_model=list[ReleaseOut], summary="Published firmware versions")
def list_releases(db: Db, user: StaffMember) -> list[ReleaseOut]:
    return [release_out(r) for r in db.query(FirmwareRelease).order_by(FirmwareRelease.created_utc)]


@router.get("/firmware-key", response_model=KeyOut, summary="The public key meters check updates with")
def firmware_key(settings: AllSettings, user: StaffMember) -> KeyOut:
    return KeyOut(public_key=fw.public_key_hex(fw.required_key(settings)))


@router.put("/firmware/{version}", response_model=ReleaseOut, status_code=201,
            summary="Publish an uploaded firmware archive (association admins)")
async def upload_release(version: Version, request: Request, db: Db, settings: AllSettings,
                         caller: AssociationAdmin, now: Now) -> ReleaseOut:
    data = await request.body()
    rel = fw.publish_release(db, settings, version, data, caller.username, now, "upload")
    db.commit()
    return release_out(rel)


@router.post("/firmware/{version}/build", response_model=ReleaseOut, status_code=201,
             summary="Build the server's firmware as a version and publish it (association admins)")
def build_release(version: Version, db: Db, settings: AllSettings, caller: AssociationAdmin,
                  now: Now) -> ReleaseOut:
    fw.check_new_version(db, version)
    fw.required_key(settings)  # both before a build of several seconds
    rel = fw.publish_release(db, settings, version, fw.build_archive(version), caller.username,
                             now, "build")
    db.commit()
    return release_out(rel)


@public_router.get("/api/firmware/{version}/archive",
                   summary="The archive meters download (signed; no sign-in)",
            response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The archive (firmware/update.py's format)."}})
def download_release(version: Version, db: Db) -> Response:
    rel = db.get(FirmwareRelease, version)
    if rel is None:
        raise ApiError(404, "unknown_version", N_("No firmware version {version} is published: "
                                                  "publish it first."), version=version)
    return Response(rel.archive, media_type="application/octet-stream",
                    headers={"Content-Length": str(rel.size)})


@router.post("/meters/{meter_id}/update", response_model=UpdateOut, status_code=202,
             summary="Ask a meter to run a published firmware version (deployment leaders)")
def update_meter(
    meter_id: Annotated[str, Path(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID)],
    body: UpdateIn, db: Db, who: Who, caller: StaffMember, settings: AllSettings, now: Now,
) -> UpdateOut:
    m = db.get(Meter, meter_id)
    if m is None or not who.staff_can(m.deployment_id, "viewer"):
        raise ApiError(404, "meter_not_registered",
                       N_('Meter "{meter_id}" is not registered in this deployment: register it first.'),
                       meter_id=meter_id)
    require_staff(who, m.deployment_id, "leader")
    row = fw.request_update(db, settings, m, body.version, caller.username, now)
    admin.audit(db, caller, "meter.update", m.deployment_id, detail=f"{m.id} {body.version}", now=now)
    db.commit()
    return UpdateOut(meter_id=m.id, version=row.version, requested_utc=row.requested_utc)
