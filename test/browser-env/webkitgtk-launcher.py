#!/usr/bin/python3
"""WebKitGTK browser for WebKitWebDriver sessions, with an on-disk profile.

WebKitWebDriver starts the binary named in `webkitgtk:browserOptions` and drives it over the
automation protocol. Stock `MiniBrowser --automation` always uses an ephemeral WebsiteDataManager,
where `navigator.storage.getDirectory()` (OPFS) rejects, so this launcher builds its own context:

- a WebsiteDataManager with a fresh on-disk directory per session, created under the profile root
  (`--profile-root=DIR`, else $IDB_EVOLVE_WEBKIT_PROFILE_ROOT, else the system temp dir);
- the runtime features StorageAPI, StorageAPIEstimate, FileSystem, FileSystemWritableStream and
  AccessHandle (createWritable needs the last two together), plus any `--features=A,B`;
- automation allowed, an ApplicationInfo named like the requested browserName (`--browser-name=`,
  default `safari`: the driver refuses a session whose name does not match), and web views created
  with `is-controlled-by-automation` when the session asks for one.

`--check` only verifies that the bindings load and the features exist, prints the version and exits.

The driver SIGKILLs this process at session end, so the profile directory is left behind: it lives
in the per-run directory (run-dir.ts), removed when vitest exits; stale ones are swept at the next
start (the `pid` file written below lets that sweep kill a launcher that outlived its run).
Options avoid GTK's own names (`--name`, `--class`, `--display`, `--gtk-*`): GTK strips them.
"""

import os
import signal
import sys
import tempfile

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

REQUIRED_FEATURES = [
    "StorageAPI",
    "StorageAPIEstimate",
    "FileSystem",
    "FileSystemWritableStream",
    "AccessHandle",
]


def fail(message):
    sys.stderr.write("webkitgtk-launcher: %s\n" % message)
    sys.exit(2)


def parse_args(argv):
    options = {
        "automation": False,
        "check": False,
        "profile_root": os.environ.get("IDB_EVOLVE_WEBKIT_PROFILE_ROOT") or tempfile.gettempdir(),
        "browser_name": "safari",
        "features": list(REQUIRED_FEATURES),
    }
    for arg in argv[1:]:
        if arg == "--automation":
            options["automation"] = True
        elif arg == "--check":
            options["check"] = True
        elif arg.startswith("--profile-root="):
            options["profile_root"] = arg.split("=", 1)[1]
        elif arg.startswith("--browser-name="):
            options["browser_name"] = arg.split("=", 1)[1]
        elif arg.startswith("--features="):
            options["features"] += [f for f in arg.split("=", 1)[1].split(",") if f]
        # Anything else (e.g. a URL) is ignored: this launcher only serves automation sessions.
    return options


def resolve_features(feature_ids):
    available = {}
    features = WebKit2.Settings.get_all_features()
    for index in range(features.get_length()):
        feature = features.get(index)
        available[feature.get_identifier()] = feature
    missing = [name for name in feature_ids if name not in available]
    if missing:
        fail("unknown WebKit runtime feature(s): %s" % ", ".join(missing))
    return [available[name] for name in feature_ids]


def build_settings(feature_ids):
    settings = WebKit2.Settings()
    settings.set_enable_developer_extras(True)
    for feature in resolve_features(feature_ids):
        settings.set_feature_enabled(feature, True)
    return settings


def main():
    options = parse_args(sys.argv)
    if options["check"]:
        # Preflight used by the global setup (no display needed): the bindings load, features exist.
        resolve_features(options["features"])
        print(
            "WebKitGTK %d.%d.%d"
            % (WebKit2.get_major_version(), WebKit2.get_minor_version(), WebKit2.get_micro_version())
        )
        return
    if not options["automation"]:
        fail("expected --automation (this binary is meant to be started by WebKitWebDriver)")

    os.makedirs(options["profile_root"], exist_ok=True)
    session_dir = tempfile.mkdtemp(prefix="webkit-session-", dir=options["profile_root"])
    with open(os.path.join(session_dir, "pid"), "w") as pid_file:
        pid_file.write(str(os.getpid()))

    data_manager = WebKit2.WebsiteDataManager(
        base_data_directory=os.path.join(session_dir, "data"),
        base_cache_directory=os.path.join(session_dir, "cache"),
    )
    if data_manager.is_ephemeral():
        fail("the WebsiteDataManager came out ephemeral; OPFS would not work")
    context = WebKit2.WebContext(website_data_manager=data_manager)
    context.set_automation_allowed(True)
    settings = build_settings(options["features"])

    windows = []

    def on_close(view, window):
        if window in windows:
            windows.remove(window)
        window.destroy()

    def create_web_view(_session):
        view = WebKit2.WebView(
            web_context=context,
            settings=settings,
            is_controlled_by_automation=True,
        )
        window = Gtk.Window()
        window.set_default_size(1280, 800)
        window.add(view)
        view.connect("close", on_close, window)
        window.show_all()
        windows.append(window)
        return view

    def on_automation_started(_context, session):
        info = WebKit2.ApplicationInfo()
        info.set_name(options["browser_name"])
        info.set_version(
            WebKit2.get_major_version(), WebKit2.get_minor_version(), WebKit2.get_micro_version()
        )
        session.set_application_info(info)
        session.connect("create-web-view", create_web_view)

    context.connect("automation-started", on_automation_started)

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, lambda *_: Gtk.main_quit() or False)
    Gtk.main()


if __name__ == "__main__":
    main()
