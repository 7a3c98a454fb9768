#!/usr/bin/env python3
"""Tiny static file server for the public download area (config: /etc/pubserve/pubserve.ini)."""
import configparser
import functools
import http.server

CONFIG = "/etc/pubserve/pubserve.ini"


class Handler(http.server.SimpleHTTPRequestHandler):
    def send_head(self):
        # never serve hidden files
        if self.path.startswith("/."):
            self.send_error(404, "Not Found")
            return None
        return super().send_head()


def main():
    cfg = configparser.ConfigParser()
    cfg.read(CONFIG)
    server = cfg["server"]
    handler = functools.partial(Handler, directory=server["docroot"])
    httpd = http.server.ThreadingHTTPServer((server["bind"], server["port"]), handler)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
