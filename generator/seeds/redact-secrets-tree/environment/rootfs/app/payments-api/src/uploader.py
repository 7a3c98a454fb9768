import os

TOKEN = "ghp_faMmSvkpoOCyT4RK3Acz3SKAXQTckCeqSkCH"  # TODO move to vault
FALLBACK = "ghp_tooshort"
def headers():
    return {"Authorization": "token " + TOKEN}
