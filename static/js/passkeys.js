// Passkeys (WebAuthn): forms marked data-passkey="register" or "authenticate" ask the
// server for options (POST, CSRF header), let the browser's authenticator answer, put the
// answer (JSON, base64url) in the hidden "credential" field and submit the form as usual.
// Without JavaScript or WebAuthn the forms stay hidden or disabled; TOTP works without it.
(function () {
  "use strict";

  function toBuffer(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBuffer(item.id), transports: item.transports };
    });
  }

  function creationOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.user.id = toBuffer(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return { publicKey: options };
  }

  function requestOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return { publicKey: options };
  }

  function credentialJson(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (credential.authenticatorAttachment) { out.authenticatorAttachment = credential.authenticatorAttachment; }
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) { out.response.transports = response.getTransports(); }
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) { out.response.userHandle = toBase64url(response.userHandle); }
    }
    return JSON.stringify(out);
  }

  function setUp(form) {
    var kind = form.getAttribute("data-passkey");
    var error = form.querySelector("[data-passkey-error]");
    var unsupported = form.querySelector("[data-passkey-unsupported]")
      || document.querySelector("[data-passkey-unsupported]");
    var button = form.querySelector("button[type=submit]");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      if (unsupported) { unsupported.hidden = false; }
      return;
    }
    form.hidden = false;
    if (button) { button.disabled = false; }
    var ready = false;
    form.addEventListener("submit", function (event) {
      if (ready) { return; }
      event.preventDefault();
      if (error) { error.hidden = true; }
      if (kind === "register") {
        var name = form.querySelector("input[name=name]");
        if (name && !name.value.trim()) { form.submit(); return; }  // the server says what is missing
      }
      var token = form.querySelector("input[name=csrf_token]").value;
      if (button) { button.disabled = true; }
      fetch(form.getAttribute("data-options-url"), {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": token, "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error("options " + response.status); }
        return response.json();
      }).then(function (options) {
        return kind === "register"
          ? navigator.credentials.create(creationOptions(options))
          : navigator.credentials.get(requestOptions(options));
      }).then(function (credential) {
        form.querySelector("input[name=credential]").value = credentialJson(credential);
        ready = true;
        form.submit();
      }).catch(function () {
        if (error) { error.hidden = false; }
        if (button) { button.disabled = false; }
      });
    });
  }

  function start() {
    var forms = document.querySelectorAll("form[data-passkey]");
    for (var i = 0; i < forms.length; i++) { setUp(forms[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
