// The recovery page's proof of work (factors/pow): finds a nonce such that
// SHA-256(challenge + ":" + nonce) begins with data-pow-bits zero bits,
// counting the nonce up in decimal from 0, and puts "challenge:nonce" into
// the hidden field "pow". Same-origin, no dependencies, no inline code (the
// pages' Content-Security-Policy allows script-src 'self' only). The work
// runs in slices so that the page stays responsive; a form sent before it
// is done is held until it is.
(function () {
  "use strict";
  var form = document.getElementById("pow-form");
  if (!form) {
    return;
  }
  var challenge = form.getAttribute("data-pow") || "";
  var bits = parseInt(form.getAttribute("data-pow-bits"), 10);
  var field = document.getElementById("pow");
  var status = document.getElementById("pow-status");
  if (!field || !(bits >= 1 && bits <= 32) || !/^[A-Za-z0-9_-]{1,100}$/.test(challenge)) {
    return;
  }

  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var IV = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  ]);
  var W = new Int32Array(64);
  var H = new Int32Array(8);
  var msg = new Uint8Array(192);
  var prefix = challenge + ":";
  for (var i = 0; i < prefix.length; i++) {
    msg[i] = prefix.charCodeAt(i);
  }

  function block(off) {
    var t, j;
    for (j = 0; j < 16; j++) {
      t = off + 4 * j;
      W[j] = (msg[t] << 24) | (msg[t + 1] << 16) | (msg[t + 2] << 8) | msg[t + 3];
    }
    for (j = 16; j < 64; j++) {
      var w15 = W[j - 15], w2 = W[j - 2];
      var s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      var s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[j] = (W[j - 16] + s0 + W[j - 7] + s1) | 0;
    }
    var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (j = 0; j < 64; j++) {
      var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      var t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[j] + W[j]) | 0;
      var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
    H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
  }

  // firstWord returns the first 32 bits of SHA-256(prefix + nonce).
  function firstWord(nonce) {
    var n = prefix.length, j;
    for (j = 0; j < nonce.length; j++) {
      msg[n++] = nonce.charCodeAt(j);
    }
    var len = n;
    msg[n++] = 0x80;
    var total = len + 9 <= 64 ? 64 : len + 9 <= 128 ? 128 : 192;
    while (n < total - 4) {
      msg[n++] = 0;
    }
    var bitLen = len * 8;
    msg[n++] = (bitLen >>> 24) & 0xff; msg[n++] = (bitLen >>> 16) & 0xff;
    msg[n++] = (bitLen >>> 8) & 0xff; msg[n++] = bitLen & 0xff;
    H.set(IV);
    for (var off = 0; off < total; off += 64) {
      block(off);
    }
    return H[0] >>> 0;
  }

  var limit = bits === 32 ? 1 : Math.pow(2, 32 - bits); // the first word must be below it
  var counter = 0;
  var done = false;
  var waiting = false;

  function finish(nonce) {
    field.value = challenge + ":" + nonce;
    done = true;
    if (status) {
      status.textContent = status.getAttribute("data-done") || "";
    }
    if (waiting) {
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    }
  }

  function work() {
    var end = counter + 50000;
    for (; counter < end; counter++) {
      var nonce = String(counter);
      if (firstWord(nonce) < limit) {
        finish(nonce);
        return;
      }
    }
    setTimeout(work, 0);
  }

  form.addEventListener("submit", function (ev) {
    if (!done) {
      ev.preventDefault();
      waiting = true;
    }
  });
  setTimeout(work, 0);
})();
