// The phone page: find the device's DPP QR code (photo, live camera, or
// pasted text) or take its PKEX code, hand it to the router, and follow the
// onboarding. No inline script (the CSP forbids it) and no innerHTML:
// everything shown is set as text.
'use strict';
(function () {
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var $ = function (id) { return document.getElementById(id); };
  var busy = false;
  var stream = null;
  var current = null; // the onboarding this page follows

  function status(text, bad) {
    var el = $('scan-status');
    el.textContent = text;
    el.className = bad ? 'status bad' : 'status';
  }

  // decode finds a QR code in an image or video frame, scaled so that a
  // phone's 12-megapixel photo does not take seconds; a small code in a
  // large photo gets a second, sharper look.
  function decode(source, width, height) {
    var sizes = [1024, 2048];
    for (var i = 0; i < sizes.length; i++) {
      var scale = Math.min(1, sizes[i] / Math.max(width, height));
      var w = Math.round(width * scale), h = Math.round(height * scale);
      var canvas = document.createElement('canvas');
      canvas.width = w; canvas.height = h;
      var ctx = canvas.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(source, 0, 0, w, h);
      var code = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'attemptBoth' });
      if (code && code.data) return code.data;
      if (scale === 1) break;
    }
    return null;
  }

  function found(text) {
    text = (text || '').trim();
    if (text.indexOf('DPP:') !== 0) {
      status('This QR code is not the device\'s Wi-Fi Easy Connect code (that one starts with DPP:). Look for another code on the device, its box or its manual.', true);
      return;
    }
    status('Found the device\'s code.');
    send({ method: 'qr', uri: text });
  }

  $('photo').addEventListener('change', function (ev) {
    var file = ev.target.files && ev.target.files[0];
    ev.target.value = '';
    if (!file) return;
    status('Looking for the QR code in your photo…');
    var img = new Image();
    var url = URL.createObjectURL(file);
    img.onload = function () {
      URL.revokeObjectURL(url);
      var text = null;
      try { text = decode(img, img.naturalWidth, img.naturalHeight); } catch (e) { text = null; }
      if (text === null) {
        status('No QR code found in the photo. Take it again closer, with the whole code in the picture and in focus, or use “Other ways to add it” below.', true);
        return;
      }
      found(text);
    };
    img.onerror = function () {
      URL.revokeObjectURL(url);
      status('This phone could not open the photo. Try again, or use “Other ways to add it” below.', true);
    };
    img.src = url;
  });

  // The live camera needs a secure context (HTTPS); over plain http:// the
  // browser refuses it, so the button only appears where it can work.
  if (window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    $('camera-start').hidden = false;
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    $('video').srcObject = null;
    $('camera').hidden = true;
    $('camera-start').hidden = false;
  }

  $('camera-start').addEventListener('click', function () {
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false }).then(function (s) {
      stream = s;
      var video = $('video');
      video.srcObject = s;
      video.play();
      $('camera').hidden = false;
      $('camera-start').hidden = true;
      status('Looking for a QR code…');
      (function tick() {
        if (!stream) return;
        if (video.readyState >= 2 && video.videoWidth > 0) {
          var text = decode(video, video.videoWidth, video.videoHeight);
          if (text !== null) { stopCamera(); found(text); return; }
        }
        setTimeout(tick, 250);
      })();
    }, function () {
      status('The camera could not be used. Take a photo of the QR code instead.', true);
    });
  });
  $('camera-stop').addEventListener('click', stopCamera);

  $('paste-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    found($('uri').value);
  });
  $('pkex-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var code = $('pkex-code').value.trim(), ident = $('pkex-id').value.trim();
    if (!code) { status('Type the pairing code printed on the device.', true); return; }
    // The router checks the same: anything else would reach its Wi-Fi as
    // more than a code.
    if (!/^[\x21-\x7e]{6,64}$/.test(code)) {
      status('The pairing code must be 6 to 64 letters, digits or punctuation marks, without spaces: check what you typed.', true);
      return;
    }
    if (!/^[\x21-\x7e]{0,64}$/.test(ident)) {
      status('The identifier must be one word of letters, digits or punctuation marks: check what you typed.', true);
      return;
    }
    send({ method: 'pkex', code: code, identifier: ident });
  });

  function call(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } };
    if (body) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || 'The router did not answer as expected. Try again.');
        return j;
      });
    });
  }

  function send(form) {
    if (busy) return;
    busy = true;
    form.name = $('name').value.trim();
    call('POST', '/api/onboard', form).then(function (p) {
      show(p);
      follow(p.id);
    }, function (e) {
      busy = false;
      status(e.message, true);
    });
  }

  function show(p) {
    $('start').hidden = true;
    var sec = $('progress');
    sec.hidden = false;
    sec.className = p.done ? (p.ok ? 'done ok' : 'done failed') : '';
    sec.dataset.state = p.state;
    $('progress-title').textContent = p.title;
    $('progress-detail').textContent = p.detail || '';
    $('progress-hint').textContent = p.hint ? 'What to try: ' + p.hint : '';
    $('again').hidden = !p.done;
    $('stop').hidden = p.done || !p.id;
    current = p.id;
  }

  // Stop: the householder sees the device was not ready and need not wait
  // for the router to give up.
  $('stop').addEventListener('click', function () {
    if (!current) return;
    $('stop').hidden = true;
    call('POST', '/api/cancel/' + encodeURIComponent(current), {}).then(show, function (e) {
      $('progress-detail').textContent = e.message;
    });
  });

  function follow(id) {
    var failures = 0;
    (function poll() {
      call('GET', '/api/progress/' + encodeURIComponent(id)).then(function (p) {
        failures = 0;
        show(p);
        if (!p.done) setTimeout(poll, 1500);
      }, function (e) {
        failures++;
        if (failures >= 5) {
          show({ done: true, ok: false, state: 'lost', title: 'Lost touch with the router', detail: e.message, hint: 'Check that this phone is on your home Wi-Fi. The router carries on: look at its Devices page.' });
          return;
        }
        setTimeout(poll, 3000);
      });
    })();
  }

  // The less safe path, where the router offers it: a password of the
  // device's own, shown once and wiped from the page on Done.
  if ($('legacy-submit')) {
    $('legacy-submit').addEventListener('click', function () {
      if (busy) return;
      busy = true;
      call('POST', '/api/legacy', { name: $('name').value.trim() }).then(function (l) {
        $('start').hidden = true;
        $('legacy').hidden = false;
        $('legacy-qr').src = l.qr;
        $('legacy-ssid').textContent = l.ssid;
        $('legacy-pass').textContent = l.passphrase;
      }, function (e) {
        busy = false;
        status(e.message, true);
      });
    });
    $('legacy-done').addEventListener('click', function () {
      $('legacy-qr').removeAttribute('src');
      $('legacy-ssid').textContent = '';
      $('legacy-pass').textContent = '';
      $('legacy').hidden = true;
      $('start').hidden = false;
      busy = false;
      status('');
    });
  }

  $('again').addEventListener('click', function () {
    busy = false;
    $('progress').hidden = true;
    $('start').hidden = false;
    $('uri').value = ''; $('pkex-code').value = ''; $('pkex-id').value = ''; $('name').value = '';
    status('');
  });
})();
