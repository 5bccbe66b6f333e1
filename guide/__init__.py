# SPDX-License-Identifier: AGPL-3.0-or-later
"""The open build guide: sources in hardware/, published as a static site and printable PDFs.

Entry point: `citizenwatt guide build` (citizenwatt.guide.cli), which calls build.build_guide.
"""
