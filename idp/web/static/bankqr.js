// bankqr.js: the QR hand-off page asks every two seconds whether the
// phone has signed in at the bank, and reloads when it has (the page then
// takes the bank's answer) or when the code expired. Without JavaScript
// the page's meta refresh does the same.
(function () {
  "use strict";
  var qr = document.getElementById("bank-qr");
  if (!qr || !window.fetch) {
    return;
  }
  var status = qr.getAttribute("data-status");
  function poll() {
    fetch(status, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.done || s.expired) {
          window.location.reload();
          return;
        }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
