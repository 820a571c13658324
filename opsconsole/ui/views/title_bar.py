"""The bar a panel's title leads ("TRENDS", "DEVICES"): the caller adds its
own controls after the title."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel


def title_bar(title: str) -> QHBoxLayout:
    bar = QHBoxLayout()
    label = QLabel(title)
    label.setObjectName("panelTitle")  # the theme's style sheet styles it
    bar.addWidget(label)
    return bar
