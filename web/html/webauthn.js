// gatehouse's only script: the WebAuthn ceremonies of the pages (security keys and passkeys).
//
// A form marked data-webauthn="create" or "get" carries the server's options as JSON in
// data-webauthn-options (binary fields in base64url). On submit this script turns them into
// the arguments of navigator.credentials.create or .get, puts the browser's answer (JSON,
// binary fields in base64url) in the form's hidden "credential" field and submits the form to
// the server, which checks it. The script makes no request of its own; the page's CSP lets it
// run by the response's nonce. Everything else on the pages works without it.
"use strict";
(function () {
  function toBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toBase64url(buf) {
    if (!buf) return null;
    var b = new Uint8Array(buf), bin = "";
    for (var i = 0; i < b.length; i++) bin += String.fromCharCode(b[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: toBytes(d.id) });
    });
  }

  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return { publicKey: pk };
  }

  function credentialJSON(c) {
    var r = c.response;
    var j = {
      id: c.id, rawId: toBase64url(c.rawId), type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      j.response.attestationObject = toBase64url(r.attestationObject);
      j.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      j.response.authenticatorData = toBase64url(r.authenticatorData);
      j.response.signature = toBase64url(r.signature);
      j.response.userHandle = toBase64url(r.userHandle);
    }
    return JSON.stringify(j);
  }

  function say(form, text) {
    var status = form.querySelector("[data-webauthn-status]");
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  }

  function ceremony(form) {
    var options = JSON.parse(form.getAttribute("data-webauthn-options"));
    var asked = form.getAttribute("data-webauthn") === "create" ?
      navigator.credentials.create(creationOptions(options)) :
      navigator.credentials.get(requestOptions(options));
    return asked.then(function (c) {
      form.elements.credential.value = credentialJSON(c);
      form.submit();
    });
  }

  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var button = form.querySelector("button[type=submit]");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(form, "This browser does not support security keys or passkeys.");
      if (button) button.disabled = true;
      return;
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (button) button.disabled = true;
      ceremony(form).catch(function (err) {
        if (button) button.disabled = false;
        say(form, err && err.name === "NotAllowedError" ?
          "The request was cancelled or timed out. Try again." :
          "The browser could not use the security key or passkey (" + (err && err.name || "error") + ").");
      });
    });
  });
})();
