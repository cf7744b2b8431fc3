/*
 * Footfall tracking code. Served at /t/<site key>.js with its configuration filled in; this is
 * the readable source (the served copy has the comments and indentation stripped).
 *
 * Install: <script async src="https://<footfall>/t/<site key>.js"></script> before </head>.
 *
 * Two builds come from this source (`make tracker`), FIRST_PARTY false or true:
 * - standard: served from Footfall's address; the script keeps the cookies below itself.
 * - first-party: served through the website's own proxy (<script async src="/ff/t/<site key>.js">);
 *   beacons go to the same path (/ff/collect), whose answer sets the cookies, HttpOnly, so the
 *   script neither reads nor writes any: it sends the cid it found in the address once.
 *
 * What it does
 * - A contact arrives through a link from an email or SMS carrying `cid=<token>`: the token is
 *   kept in the first-party cookie `_ff_id` and removed from the address bar (history.replaceState,
 *   every other parameter and the fragment kept), so a copied URL does not carry the identity.
 * - A random visitor id is kept in the cookie `_ff_vid`. Both cookies live 13 months, are
 *   refreshed on every page view, SameSite=Lax, Secure on https.
 * - Each page view (the URL without `cid` and without the fragment, title, referrer, visitor id,
 *   identity token, a unique event id, the time) is sent with navigator.sendBeacon as text/plain
 *   (no CORS preflight), or fetch(..., {keepalive: true}) where sendBeacon is missing or refuses.
 * - Single-page apps: one page view per route change (pushState, replaceState, popstate), never
 *   two for the same address in a row.
 * - With Global Privacy Control or Do Not Track on, and the account respecting them (the
 *   default), it sends nothing and sets no cookie.
 *
 * The one global: `footfall(command, ...)`, a command queue usable before the script loads:
 *   window.footfall = window.footfall || function () { (footfall.q = footfall.q || []).push(arguments); };
 *   footfall('consent', false)   stop sending and delete both cookies (e.g. until a banner is accepted;
 *                                first-party: a request to /ff/forget, whose answer deletes them)
 *   footfall('consent', true)    allow sending again (never overrides a browser privacy signal)
 *   footfall('pageview')         send a page view now, even for the same address
 *   footfall('identify', {email, signature})   a signed-in customer, vouched for by the website's
 *                                server (an HMAC-SHA256 of the email with the site's identify secret):
 *                                sent with the page view, or alone if this page's was sent already
 *   footfall('track', 'signup', {plan: 'pro'})   a custom event with flat properties (text,
 *                                numbers, true/false): the contact's, once the browser is identified
 *
 * It never throws into the host page: everything runs inside try/catch.
 */
(function (w, d, cfg) {
  try {
    var previous = w.footfall;
    if (previous && previous.loaded) return;
    var nav = w.navigator, loc = w.location, hist = w.history;
    var ID = "_ff_id", VID = "_ff_vid", LIFETIME = 34214400; // 396 days, in seconds
    var blocked = cfg.p && (nav.globalPrivacyControl || nav.doNotTrack == "1");
    var consent = true, lastUrl = "", referrer = d.referrer, pending = "", endpoint = cfg.e, base, signed = {},
      later = [];
    if (FIRST_PARTY) {
      // The script's own address, /ff/t/<key>.js: beacons go to /ff/collect beside it.
      base = ((d.currentScript || {}).src || "").replace(/\/t\/[^\/]*$/, "");
      endpoint = base + "/collect";
    }

    // Both values are URL-safe as they are (a token, an id of digits and dashes): no escaping.
    var cookie = function (name, value) {
      if (value == null) {
        var found = d.cookie.match("(^|; )" + name + "=([^;]*)");
        return found ? found[2] : "";
      }
      d.cookie = name + "=" + value + ";path=/;max-age=" + (value ? LIFETIME : 0) +
        ";samesite=lax" + (loc.protocol == "https:" ? ";secure" : "");
    };

    // 128 random bits, as four numbers joined by dashes.
    var randomId = function () {
      return w.crypto.getRandomValues(new Uint32Array(4)).join("-");
    };

    // [the cid of the address, the query string without it]
    // (every cid parameter taken out, the last one kept: URL-safe, no unescaping)
    var splitCid = function () {
      var cid = "", kept = loc.search.replace(/[?&]cid=([^&]*)/g, function (all, value) {
        cid = value;
        return "";
      });
      return [cid, kept && "?" + kept.slice(1)];
    };

    // force: even for the same address; only: an identify alone, not a page view; name and
    // props: a custom event, not a page view either.
    var send = function (force, only, name, props) {
      try {
        var url = loc.protocol + "//" + loc.host + loc.pathname + splitCid()[1];
        if (blocked || !consent || (url == lastUrl && !force)) return;
        var visitor = "", identity = pending;
        if (FIRST_PARTY) {
          if (!name) pending = ""; // (a cid found in the address goes with the page view)
        } else {
          visitor = cookie(VID) || randomId();
          identity = cookie(ID);
          cookie(VID, visitor);
          if (identity) cookie(ID, identity);
        }
        var body = JSON.stringify({
          k: cfg.k, u: url, t: d.title.slice(0, 500), r: referrer,
          v: visitor, c: identity, e: randomId(), ts: Date.now(),
          i: signed.email, g: signed.signature, x: only, n: name, p: props
        });
        if (!name) {
          signed = {};
          referrer = lastUrl = url;
        }
        if (!(nav.sendBeacon && nav.sendBeacon(endpoint, body))) {
          w.fetch(endpoint, {method: "POST", body: body, keepalive: true}); // (/collect allows any origin)
        }
      } catch (e) {}
    };

    var run = function (args) {
      if (args[0] == "pageview") send(1);
      // (an event queued before the first page view goes after it: the view carries the identity)
      if (args[0] == "track") lastUrl ? send(1, 0, args[1], args[2]) : later.push(args);
      // Verified identify: sent with the next page view, or alone once this page's was sent.
      if (args[0] == "identify") {
        signed = args[1] || {};
        if (lastUrl) send(1, 1);
      }
      if (args[0] == "consent") {
        consent = !!args[1];
        if (!consent) {
          pending = "";
          if (FIRST_PARTY) w.fetch(base + "/forget", {method: "POST", body: JSON.stringify({u: loc.href}), keepalive: true});
          else { cookie(ID, ""); cookie(VID, ""); }
        }
      }
    };

    var queued = (previous && previous.q) || [];
    w.footfall = function () { run(arguments); };
    w.footfall.loaded = 1;
    for (var i = 0; i < queued.length; i++) run(queued[i]);

    // The identity from the link replaces any earlier one, then leaves the address bar.
    var arrived = splitCid();
    if (arrived[0]) {
      if (!blocked && consent) {
        if (FIRST_PARTY) pending = arrived[0];
        else cookie(ID, arrived[0]);
      }
      hist.replaceState(hist.state, "", loc.pathname + arrived[1] + loc.hash);
    }

    ["pushState", "replaceState"].map(function (name) {
      var original = hist[name];
      hist[name] = function () {
        var result = original.apply(this, arguments);
        send();
        return result;
      };
    });
    w.addEventListener("popstate", function () { send(); });
    send();
    later.map(run);
  } catch (e) {}
})(window, document, FOOTFALL_CONFIG);
