"""Packaging reads nbdev's settings.ini so there is one place for name, version and requirements."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]
reqs = cfg.get("requirements", "").split()
dev = cfg.get("dev_requirements", "").split()
pipeline = cfg.get("pipeline_requirements", "").split()   # `pip install 'sembed[pipeline]'`: DVC, reports, geometry extras, LoRA
scripts = [s.strip() for s in cfg.get("console_scripts", "").split("\n") if s.strip()]

setuptools.setup(
    name=cfg["lib_name"], version=cfg["version"], description=cfg["description"],
    author=cfg["author"], license="Apache-2.0", python_requires=f">={cfg['min_python']}",
    packages=setuptools.find_packages(include=["sembed", "sembed.*"]),
    package_data={"sembed": ["resources/*"]}, include_package_data=True,
    install_requires=reqs, extras_require={"dev": dev, "pipeline": pipeline},
    entry_points={"console_scripts": scripts, "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
