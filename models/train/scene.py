"""Camera geometry, street backgrounds and lighting for the procedural renderer.

World coordinates are metres: X lateral (right is positive), Y up, Z forward from the
camera. The camera hangs on a pole at height `height` with a vertical image plane and a
shifted principal point, so a horizon above the image top means "looking down the street"
without perspective distortion of vertical objects. All drawing goes through a Canvas,
which paints colours into the image and instance ids into a mask, so the labelled boxes are
the exact visible extent of each object.
"""

import cv2
import numpy as np


class Camera:
    """Pinhole camera: ground point (X, 0, Z) maps to (vx + f X / Z, horizon + f h / Z)."""

    def __init__(self, width, height, focal, cam_height, horizon, vx):
        self.w, self.h = width, height
        self.f, self.ch = focal, cam_height
        self.horizon, self.vx = horizon, vx

    def project(self, X, Y, Z):
        X, Y, Z = np.asarray(X, np.float64), np.asarray(Y, np.float64), np.asarray(Z, np.float64)
        return self.vx + self.f * X / Z, self.horizon + self.f * (self.ch - Y) / Z

    def ground_at(self, x, y):
        """Ground point (X, Z) seen at pixel (x, y); y must be below the horizon."""
        Z = self.f * self.ch / (y - self.horizon)
        return (x - self.vx) * Z / self.f, Z

    def ppm(self, Z):
        """Pixels per metre at depth Z."""
        return self.f / Z


def random_camera(rng, width, height, near=False):
    """A pole camera. `near` gives closer, larger objects (scenario videos)."""
    f = width * rng.uniform(0.7, 1.5) if not near else width * rng.uniform(0.9, 1.2)
    ch = rng.uniform(3.5, 8.0) if not near else rng.uniform(4.0, 5.5)
    horizon = height * rng.uniform(-0.7, 0.25) if not near else height * rng.uniform(-0.35, -0.05)
    vx = width * rng.uniform(0.25, 0.75)
    return Camera(width, height, f, ch, horizon, vx)


# ---------------------------------------------------------------------------------------------
# Canvas


class Canvas:
    """An RGB uint8 image plus an instance-id mask; every primitive paints both."""

    def __init__(self, img, cam):
        self.img = img
        self.cam = cam
        self.ids = np.zeros(img.shape[:2], np.int32)
        self.shadow = np.ones(img.shape[:2], np.float32)
        self.emissive = np.zeros(img.shape[:2], np.float32)
        self.cur = 0  # instance id painted by the next primitives; 0 = unlabelled

    def _pix(self, pts3d):
        p = np.asarray(pts3d, np.float64)
        x, y = self.cam.project(p[:, 0], p[:, 1], p[:, 2])
        return np.round(np.stack([x, y], 1) * 16).astype(np.int32)  # 4 fractional bits

    def poly(self, pts3d, color, glow=0.0):
        q = self._pix(pts3d)
        if np.abs(q).max() > 2**26:
            return
        col = tuple(int(c) for c in color)
        cv2.fillPoly(self.img, [q], col, cv2.LINE_AA, 4)
        if self.ids is not None:
            cv2.fillPoly(self.ids, [q], int(self.cur), cv2.LINE_8, 4)
        if glow:
            cv2.fillPoly(self.emissive, [q], float(glow), cv2.LINE_8, 4)

    def line(self, a, b, color, width_m):
        """A thick segment between two 3D points, width in metres at that depth."""
        q = self._pix([a, b])
        zm = max(1e-3, (a[2] + b[2]) / 2)
        t = max(1, int(round(width_m * self.cam.ppm(zm))))
        if np.abs(q).max() > 2**26:
            return
        col = tuple(int(c) for c in color)
        cv2.line(self.img, tuple(q[0]), tuple(q[1]), col, t, cv2.LINE_AA, 4)
        if self.ids is not None:
            cv2.line(self.ids, tuple(q[0]), tuple(q[1]), int(self.cur), t, cv2.LINE_8, 4)

    def local(self, X, Z, uv, color, glow=0.0):
        """Fill a polygon given in a vertical plane facing the camera at (X, Z)."""
        uv = np.asarray(uv, np.float64)
        pts = np.stack([X + uv[:, 0], uv[:, 1], np.full(len(uv), Z)], 1)
        self.poly(pts, color, glow)

    def ground_poly(self, xz, color):
        xz = np.asarray(xz, np.float64)
        self.poly(np.stack([xz[:, 0], np.zeros(len(xz)), xz[:, 1]], 1), color)

    def box3d(self, X, Z, w, d, h, color, y0=0.0, top=None, side=None):
        """An axis-aligned box (width w along X, depth d along Z) standing at (X, y0, Z)."""
        x0, x1, z0, z1, y1 = X - w / 2, X + w / 2, Z, Z + d, y0 + h
        top = shade(color, 1.15) if top is None else top
        side = shade(color, 0.75) if side is None else side
        # Side face visible when the box is off the camera's axis.
        if x1 < 0:
            self.poly([(x1, y0, z0), (x1, y0, z1), (x1, y1, z1), (x1, y1, z0)], side)
        elif x0 > 0:
            self.poly([(x0, y0, z0), (x0, y0, z1), (x0, y1, z1), (x0, y1, z0)], side)
        if y1 < self.cam.ch:  # top visible from above
            self.poly([(x0, y1, z0), (x1, y1, z0), (x1, y1, z1), (x0, y1, z1)], top)
        self.poly([(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)], color)

    def cast_shadow(self, X, Z, w, h, sun, strength=0.55):
        """Darken the ground where an upright object of width w, height h casts its shadow."""
        if sun is None:
            return
        sx, sz = sun
        pts = [(X - w / 2, Z), (X + w / 2, Z), (X + w / 2 + h * sx, Z + h * sz), (X - w / 2 + h * sx, Z + h * sz)]
        p = np.asarray(pts, np.float64)
        if (p[:, 1] <= 0.3).any():
            return
        x, y = self.cam.project(p[:, 0], np.zeros(4), p[:, 1])
        q = np.round(np.stack([x, y], 1) * 16).astype(np.int32)
        cv2.fillPoly(self.shadow, [q], float(strength), cv2.LINE_AA, 4)


def shade(color, k):
    return tuple(int(np.clip(c * k, 0, 255)) for c in color)


# ---------------------------------------------------------------------------------------------
# Background


def noise_texture(rng, size=256, scales=(2, 8, 32), weights=(0.5, 0.3, 0.2)):
    """Tileable-ish value noise in [-1, 1]."""
    out = np.zeros((size, size), np.float32)
    for s, wgt in zip(scales, weights):
        n = rng.standard_normal((size // s + 1, size // s + 1)).astype(np.float32)
        n = cv2.resize(n, (size + s, size + s), interpolation=cv2.INTER_CUBIC)[:size, :size]
        out += wgt * n / (n.std() + 1e-6)
    return np.clip(out / 2.0, -1, 1)


def sample_tex(tex, u, v, texels_per_m):
    s = tex.shape[0]
    mu = np.mod(u * texels_per_m, s).astype(np.float32)
    mv = np.mod(v * texels_per_m, s).astype(np.float32)
    return cv2.remap(tex, mu, mv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def grid_lines(a, pitch, ppm, width_m=0.015):
    """Soft coverage of grout/markings lines at multiples of `pitch` metres, anti-aliased by ppm."""
    d = np.abs(np.mod(a + pitch / 2, pitch) - pitch / 2) * ppm  # distance in pixels
    half = np.maximum(width_m * ppm / 2, 0.35)
    cov = np.clip(half + 0.5 - d, 0, 1)
    return cov * np.clip(width_m * ppm / 0.7, 0.15, 1)


def random_layout(rng, cam, kind=None):
    """Where the road, curb, sidewalk and walls are, in world coordinates."""
    kind = kind or rng.choice(["along", "along", "facing", "open"])
    side = rng.choice([-1, 1])
    road_w = rng.uniform(5, 12)
    walk_w = rng.uniform(2.5, 7)
    # The road runs along Z; the camera pole stands on the sidewalk or at the curb.
    curb_x = side * rng.uniform(0.0, 3.0)
    lay = dict(kind=kind, side=side, curb_x=curb_x, road=(curb_x - side * road_w, curb_x),
               walk=(curb_x, curb_x + side * walk_w), wall_x=curb_x + side * walk_w,
               wall_z=rng.uniform(9, 25), wall_h=rng.uniform(6, 20), lanes=rng.integers(1, 4))
    lay["asphalt"] = (rng.uniform(55, 115) * np.array([1, 1, 1]) + rng.uniform(-6, 6, 3)).astype(np.float32)
    lay["tile"] = rng.choice([0.3, 0.4, 0.5, 0.6])
    base = np.array(rng.choice([[150, 140, 130], [170, 165, 160], [135, 110, 100], [120, 125, 130],
                                [185, 170, 140], [150, 90, 80], [110, 120, 110]]), np.float64)
    lay["walk_col"] = (base * rng.uniform(0.75, 1.1) + rng.uniform(-10, 10, 3)).astype(np.float32)
    lay["wall_col"] = np.array(rng.choice([[200, 195, 180], [170, 150, 130], [150, 160, 170], [210, 200, 200],
                                           [120, 100, 90], [180, 180, 175]]), np.float32) * np.float32(rng.uniform(0.7, 1.05))
    lay["shops"] = random_shops(rng)
    return lay


SIGN_COLS = [[200, 30, 30], [30, 80, 180], [250, 200, 40], [30, 140, 60], [240, 240, 235], [230, 110, 20],
             [20, 20, 25], [150, 40, 150]]


def random_shops(rng, n=24):
    widths = rng.uniform(3.5, 9.0, n)
    return dict(
        edges=np.concatenate([[0], np.cumsum(widths)]) + rng.uniform(0, 5),
        kind=rng.integers(0, 4, n),  # 0 shutter, 1 glass, 2 wall+door, 3 glass with posters, 4 open bay
        sign=np.array([SIGN_COLS[i] for i in rng.integers(0, len(SIGN_COLS), n)], np.float64),
        text=np.array([SIGN_COLS[i] for i in rng.integers(0, len(SIGN_COLS), n)], np.float64),
        floor_h=rng.uniform(3.0, 4.2),
        seed=int(rng.integers(1 << 30)),
    )


def _hash(a, b, seed):
    h = (a.astype(np.int64) * 73856093) ^ (b.astype(np.int64) * 19349663) ^ seed
    h = (h ^ (h >> 13)) * 1274126177
    return ((h >> 8) & 0xFFFF).astype(np.float32) / 65535.0


def facade(u, h, lay, ppm, tex):
    """Colour of a shop facade at along-wall coordinate u and height h (arrays)."""
    sh = lay["shops"]
    n = len(sh["kind"])
    idx = np.clip(np.searchsorted(sh["edges"], u) - 1, 0, n - 1)
    left = sh["edges"][idx]
    width = sh["edges"][np.minimum(idx + 1, n)] - left
    lu = u - left
    fh = sh["floor_h"]
    out = np.empty(u.shape + (3,), np.float32)
    glow = np.zeros(u.shape, np.float32)
    wall = lay["wall_col"][None, :] * (1 + 0.12 * tex[..., None])
    out[:] = wall
    kind = sh["kind"][idx]
    ground = h < fh - 0.9
    pillar = (lu < 0.3) | (lu > width - 0.3)
    # Ground floor: shutters, glass or a door.
    shutter = ground & ~pillar & (kind == 0)
    stripes = 0.85 + 0.15 * np.cos(h * 2 * np.pi / 0.09) ** 2
    out[shutter] = (np.array([165, 165, 170])[None] * stripes[shutter][:, None])
    glass = ground & ~pillar & ((kind == 1) | (kind == 3))
    out[glass] = np.array([60, 75, 90]) + 25 * tex[glass][:, None]
    glow[glass] = 0.7
    poster = glass & (kind == 3) & (np.mod(lu, 1.5) < 0.8) & (h > 0.8) & (h < 1.8)
    out[poster] = sh["text"][idx][poster] * 0.9
    bay = ground & ~pillar & (kind == 4)  # an open loading bay (garbage station entrance)
    out[bay] = np.array([38, 38, 42]) * (0.7 + 0.5 * np.clip(h / fh, 0, 1))[bay][:, None]
    door = ground & ~pillar & (kind == 2) & (np.abs(lu - width / 2) < 0.6) & (h < 2.2)
    out[door] = np.array([90, 60, 40])
    # Shop sign band with glyph-like marks.
    band = (h >= fh - 0.9) & (h < fh - 0.1) & ~pillar
    out[band] = sh["sign"][idx][band]
    glow[band] = 1.0
    cw = 0.45
    cu, cv = np.floor(lu / cw), np.floor((h - (fh - 0.9)) / (0.8 / 3))
    sub_u = np.floor(np.mod(lu, cw) / (cw / 4))
    glyph = band & (np.mod(lu, cw) > 0.07) & (np.mod(lu, cw) < cw - 0.07) & (cv >= 0.5) & (cv < 2.5)
    glyph &= _hash(cu * 8 + sub_u, cv + idx * 3, sh["seed"]) > 0.45
    glyph &= (lu > 0.8) & (lu < width - 0.8)
    out[glyph] = sh["text"][idx][glyph]
    # Upper floors: windows.
    upper = h >= fh
    wz = np.mod(lu, 2.2)
    wy = np.mod(h - fh, 3.0)
    win = upper & (wz > 0.5) & (wz < 1.7) & (wy > 0.8) & (wy < 2.2)
    lit = _hash(np.floor(lu / 2.2) + idx * 31, np.floor((h - fh) / 3.0), sh["seed"]) > 0.6
    out[win] = np.array([50, 60, 75]) + 20 * tex[win][:, None]
    glow[win & lit] = 0.8
    # A darker plinth and some grime near the ground.
    out *= (0.85 + 0.15 * np.clip(h / 0.5, 0, 1))[..., None]
    return out, glow


def render_background(rng, cam, lay):
    """Albedo image (float32 RGB 0..255), emissive map and a ground mask."""
    H, W = cam.h, cam.w
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    xs += 0.5
    ys += 0.5
    img = np.zeros((H, W, 3), np.float32)
    glow = np.zeros((H, W), np.float32)
    tex = noise_texture(rng)
    tex2 = noise_texture(rng, scales=(4, 16, 64), weights=(0.3, 0.3, 0.4))

    dy = ys - cam.horizon
    below = dy > 1e-3
    ppm = np.where(below, dy / cam.ch, 1e-6)  # pixels per metre at this ground row
    Z = np.where(below, cam.f / ppm, 1e9)
    X = (xs - cam.vx) / ppm
    ground = below & (Z < 150)

    # Walls replace ground beyond them.
    wall = np.zeros((H, W), bool)
    wu = np.zeros((H, W))
    wh = np.zeros((H, W))
    wppm = np.ones((H, W))
    if lay["kind"] == "along":
        s, xw = lay["side"], lay["wall_x"]
        dx = (xs - cam.vx) * s
        zw = np.where(dx > 0, cam.f * abs(xw) / np.maximum(dx, 1e-6), 1e9)
        hh = cam.ch - (ys - cam.horizon) * zw / cam.f
        wall = (dx > 0) & (zw < 200) & (hh >= 0) & (hh < lay["wall_h"])
        wall &= ~ground | (X * s > abs(xw))
        ground &= ~wall & ~((dx > 0) & (X * s > abs(xw)))
        wu, wh, wppm = zw, hh, cam.f / np.maximum(zw, 1e-6)
    elif lay["kind"] == "facing":
        zw = lay["wall_z"]
        hh = cam.ch - (ys - cam.horizon) * zw / cam.f
        wall = (hh >= 0) & (hh < lay["wall_h"]) & ~(ground & (Z < zw))
        ground &= Z < zw
        wu, wh, wppm = (xs - cam.vx) * zw / cam.f, hh, np.full((H, W), cam.f / zw)

    # Ground: asphalt road, curb, tiled sidewalk.
    t1 = sample_tex(tex, X, Z, 12)
    t2 = sample_tex(tex2, X, Z, 3)
    side = lay["side"]
    on_walk = ((X - lay["curb_x"]) * side > 0.15)
    on_curb = ((X - lay["curb_x"]) * side > 0) & ~on_walk
    asphalt = lay["asphalt"][None, None, :] * (1 + 0.10 * t1[..., None] + 0.12 * t2[..., None])
    walk = lay["walk_col"][None, None, :] * (1 + 0.05 * t1[..., None] + 0.08 * t2[..., None])
    tile = lay["tile"]
    ti = _hash(np.floor(X / tile), np.floor(Z / tile), 7)
    walk *= (0.93 + 0.1 * ti)[..., None]
    grout = np.maximum(grid_lines(X, tile, ppm), grid_lines(Z, tile, ppm))
    walk *= (1 - 0.35 * grout)[..., None]
    gimg = np.where(on_walk[..., None], walk, asphalt)
    gimg = np.where(on_curb[..., None], np.array([175, 172, 165], np.float32)[None, None] * (1 + 0.05 * t1[..., None]), gimg)
    # Lane markings on the road.
    road_lo, road_hi = sorted(lay["road"])
    on_road = (X > road_lo) & (X < road_hi)
    lane_w = (road_hi - road_lo) / (lay["lanes"] + 1)
    for i in range(1, int(lay["lanes"]) + 1):
        xl = road_lo + i * lane_w
        d = np.abs(X - xl) * ppm
        cov = np.clip(0.06 * ppm + 0.5 - d, 0, 1) * (np.mod(Z, 9) < 4.5)
        col = np.array([235, 235, 230] if i % 2 else [230, 190, 50], np.float32)
        gimg = gimg * (1 - cov[..., None] * on_road[..., None]) + col * (cov * on_road)[..., None]
    img[ground] = gimg[ground]

    if wall.any():
        fimg, fglow = facade(wu[wall], wh[wall], lay, wppm[wall], sample_tex(tex, wu, wh, 10)[wall])
        img[wall] = fimg
        glow[wall] = fglow

    # Sky or distant haze where nothing else is.
    rest = ~ground & ~wall
    sky_col = np.array(rng.choice([[190, 205, 220], [160, 170, 180], [210, 200, 190]]), np.float32)
    sky_tex = cv2.resize(tex2, (W, H))
    img[rest] = sky_col * (0.9 + 0.1 * sky_tex[rest][:, None])
    # Haze with distance on the ground.
    haze = (np.clip((Z - 40) / 120, 0, 0.6) * ground).astype(np.float32)[..., None]
    img = img * (1 - haze) + haze * sky_col
    return img, glow, ground, dict(X=X, Z=Z, ppm=ppm)


# ---------------------------------------------------------------------------------------------
# Lighting and camera effects


def random_lighting(rng, kind=None):
    kind = kind or rng.choice(["day", "day", "overcast", "dusk", "night", "night"])
    if kind == "day":
        ang = rng.uniform(0, 2 * np.pi)
        return dict(kind=kind, ambient=rng.uniform(0.85, 1.15), tint=(1.0, 1.0, rng.uniform(0.9, 1.05)),
                    sun=(np.cos(ang) * rng.uniform(0.3, 1.2), np.sin(ang) * rng.uniform(0.3, 1.2)),
                    lamps=[], ir=False)
    if kind == "overcast":
        return dict(kind=kind, ambient=rng.uniform(0.7, 0.95), tint=(0.95, 0.98, 1.05), sun=None, lamps=[], ir=False)
    if kind == "dusk":
        return dict(kind=kind, ambient=rng.uniform(0.35, 0.6), tint=(1.15, 0.9, 0.7), sun=None,
                    lamps=random_lamps(rng, 0.6), ir=False)
    return dict(kind=kind, ambient=rng.uniform(0.08, 0.2), tint=(0.85, 0.9, 1.15), sun=None,
                lamps=random_lamps(rng, 1.0), ir=rng.random() < 0.4)


def random_lamps(rng, strength):
    return [(rng.uniform(-8, 8), rng.uniform(4, 40), rng.uniform(4, 9), strength * rng.uniform(0.7, 1.3))
            for _ in range(rng.integers(1, 5))]


def apply_lighting(img, cv, geo, light):
    """img: float32 albedo 0..255 with objects drawn; returns lit float32 image."""
    H, W = img.shape[:2]
    L = np.full((H, W), light["ambient"], np.float32)
    for (lx, lz, r, s) in light["lamps"]:
        d2 = (geo["X"] - lx) ** 2 + (geo["Z"] - lz) ** 2
        L += (s * np.exp(-d2 / (r * r))).astype(np.float32)
    L = L * cv.shadow
    if light["kind"] in ("night", "dusk"):
        L = np.maximum(L, cv.emissive * (1.1 if light["kind"] == "night" else 0.8))
    out = img * L[..., None] * np.asarray(light["tint"], np.float32)[None, None]
    if light["ir"]:
        g = out.mean(axis=2, keepdims=True) * 2.2 + 15
        out = np.repeat(g, 3, axis=2)
    return out


def camera_effects(rng, img, night=False, video=False):
    """Blur, sensor noise, gamma and compression artefacts. img float32 -> uint8."""
    if rng.random() < 0.35:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.3))
    if not video and rng.random() < 0.12:
        k = int(rng.integers(3, 9))
        ker = np.zeros((k, k), np.float32)
        if rng.random() < 0.5:
            ker[k // 2, :] = 1.0 / k
        else:
            ker[:, k // 2] = 1.0 / k
        img = cv2.filter2D(img, -1, ker)
    gamma = rng.uniform(0.8, 1.2)
    img = 255.0 * np.power(np.clip(img, 0, 255) / 255.0, gamma)
    sigma = rng.uniform(4, 10) if night else rng.uniform(1, 5)
    img = img + rng.standard_normal(img.shape[:2] + (1,)).astype(np.float32) * sigma * 0.7 \
        + rng.standard_normal(img.shape).astype(np.float32) * sigma * 0.5
    out = np.clip(img, 0, 255).astype(np.uint8)
    if not video:
        if rng.random() < 0.25:
            h, w = out.shape[:2]
            s = rng.uniform(0.5, 0.8)
            out = cv2.resize(cv2.resize(out, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA), (w, h))
        q = int(rng.uniform(25, 92))
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
        out = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    return out
