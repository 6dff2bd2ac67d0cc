"""A small anchor-free detector (ResNet-ish backbone, FPN-lite neck, decoupled YOLOv8-style head).

Regression is direct: each grid point predicts its distances (left, top, right, bottom) to the
box edges as softplus(raw) * stride, so there are no anchors and no DFL bins. In export mode the
forward pass decodes everything inside the graph and returns the Ultralytics YOLOv8 layout
[B, 4 + num_classes, N] with cx, cy, w, h in input pixels and per-class sigmoid scores.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

STRIDES = (8, 16, 32)


def cbr(c1, c2, k=3, s=1):
    return nn.Sequential(nn.Conv2d(c1, c2, k, s, k // 2, bias=False), nn.BatchNorm2d(c2), nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = cbr(c, c)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(x + self.b(self.a(x)))


class Head(nn.Module):
    """Decoupled head for one level: separate classification and box branches."""

    def __init__(self, c, nc, shared=False):
        super().__init__()
        # On the large stride-8 map one shared 3x3 conv keeps the cost down.
        self.stem = cbr(c, c) if shared else nn.Identity()
        self.cls = nn.Sequential(nn.Identity() if shared else cbr(c, c), nn.Conv2d(c, nc, 1))
        self.reg = nn.Sequential(nn.Identity() if shared else cbr(c, c), nn.Conv2d(c, 4, 1))
        nn.init.constant_(self.cls[-1].bias, -math.log((1 - 0.01) / 0.01))
        nn.init.constant_(self.reg[-1].bias, 1.0)

    def forward(self, x):
        x = self.stem(x)
        return self.cls(x), self.reg(x)


class Detector(nn.Module):
    def __init__(self, nc=5, size=320):
        super().__init__()
        self.nc, self.size = nc, size
        self.stem = nn.Sequential(cbr(3, 16, 3, 2), cbr(16, 32, 3, 2))      # /4
        self.s3 = nn.Sequential(cbr(32, 48, 3, 2), Residual(48))            # /8
        self.s4 = nn.Sequential(cbr(48, 96, 3, 2), Residual(96))            # /16
        self.s5 = nn.Sequential(cbr(96, 128, 3, 2), Residual(128))          # /32
        self.l5, self.l4, self.l3 = nn.Conv2d(128, 64, 1), nn.Conv2d(96, 64, 1), nn.Conv2d(48, 48, 1)
        self.f4 = cbr(64, 64)
        self.d4 = nn.Conv2d(64, 48, 1)
        self.f3 = cbr(48, 48)
        self.heads = nn.ModuleList([Head(48, nc, shared=True), Head(64, nc), Head(64, nc)])
        self.export = False
        anchors, strides = [], []
        for s in STRIDES:
            n = size // s
            ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            anchors.append(torch.stack([xs.flatten(), ys.flatten()], 0).float() * s + s / 2)
            strides.append(torch.full((1, n * n), float(s)))
        self.register_buffer("anchors", torch.cat(anchors, 1))  # [2, N]
        self.register_buffer("strides", torch.cat(strides, 1))  # [1, N]

    def forward(self, x):
        c3 = self.s3(self.stem(x))
        c4 = self.s4(c3)
        c5 = self.s5(c4)
        p5 = self.l5(c5)
        p4 = self.f4(self.l4(c4) + F.interpolate(p5, scale_factor=2.0, mode="nearest"))
        p3 = self.f3(self.l3(c3) + F.interpolate(self.d4(p4), scale_factor=2.0, mode="nearest"))
        cls, reg = [], []
        for head, p in zip(self.heads, (p3, p4, p5)):
            c, r = head(p)
            cls.append(c.flatten(2))
            reg.append(r.flatten(2))
        cls, reg = torch.cat(cls, 2), torch.cat(reg, 2)  # [B, nc, N], [B, 4, N]
        ltrb = F.softplus(reg) * self.strides
        x1y1 = self.anchors - ltrb[:, :2]
        x2y2 = self.anchors + ltrb[:, 2:]
        if self.export:
            return torch.cat([(x1y1 + x2y2) / 2, x2y2 - x1y1, cls.sigmoid()], 1)
        return cls.transpose(1, 2), torch.cat([x1y1, x2y2], 1).transpose(1, 2)  # [B,N,nc], [B,N,4] xyxy
