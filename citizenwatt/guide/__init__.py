"""The open build guide: sources in hardware/, published as a static site and printable PDFs.

Entry point: `citizenwatt guide build` (citizenwatt.guide.cli), which calls build.build_guide.
"""
