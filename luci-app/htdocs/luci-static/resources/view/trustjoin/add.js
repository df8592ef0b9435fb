'use strict';
'require view';
'require trustjoin.rpc as tjrpc';
'require uci';
'require ui';
'require poll';
'require dom';

// Add a device: by its QR code (live camera, photo, or the text pasted),
// by its PKEX code, or from the householder's phone. Then live progress
// until the device is connected, and what to try when it is not.
//
// The live camera needs a secure context (HTTPS): over plain HTTP, the
// usual http://192.168.1.1, browsers refuse getUserMedia, so the photo
// path is the first choice there. QR codes are decoded in the page, with
// the browser's BarcodeDetector where it has one, else with the vendored
// jsQR (trustjoin/jsQR.js, Apache-2.0), loaded only when needed.

var callOnboard = tjrpc.declare('onboard', [ 'method', 'uri', 'code', 'identifier', 'name', 'segment' ]);
var callProgress = tjrpc.declare('progress', [ 'id' ]);
var callCancel = tjrpc.declare('cancel', [ 'id' ]);
var callPreauthList = tjrpc.declare('preauth_list');
var callPreauthAdd = tjrpc.declare('preauth_add', [ 'uri', 'segment', 'name' ]);
var callPreauthRemove = tjrpc.declare('preauth_remove', [ 'id' ]);
var callPhoneStart = tjrpc.declare('phone_start');
var callPhoneRevoke = tjrpc.declare('phone_revoke', [ 'id' ]);

function errText(err) {
	return (err && err.message) ? err.message : String(err);
}

// notOffered tells whether a call failed because the ubus method or object
// does not exist (ubus codes 3 and 4): an older daemon without it.
function notOffered(err) {
	return /ubus code [34]\b|Method not found|Resource not found/.test(errText(err));
}

// validURI checks the shape of a DPP bootstrapping URI (EasyConnect 5.2.1):
// "DPP:", then fields, a public key K: among them, ending in ";;".
function validURI(s) {
	return /^DPP:(?:[A-Z]:[^;]*;)*K:[^;]+;(?:[A-Z]:[^;]*;)*;$/.test(s);
}

var TERMINAL = { connected: true, failed: true, cancelled: true };

var STEPS = {
	queued: _('Waiting for the access point…'),
	running: _('Talking to the device…'),
	configured: _('The device has its credential and is connecting…')
};

return view.extend({
	load: function() {
		return Promise.all([
			L.resolveDefault(uci.load('trustjoin'), null),
			L.resolveDefault(callPreauthList(), { entries: [] })
		]);
	},

	// segments a device can be put in: not the quarantine segment, which
	// is what Quarantine is for.
	segments: function() {
		return (uci.sections('trustjoin', 'segment') || []).filter(function(s) {
			return s.quarantine != '1';
		}).map(function(s) { return s['.name'] });
	},

	notify: function(text, type) {
		ui.addNotification(null, E('p', [ text ]), type || 'danger');
	},

	// --- onboarding and progress -------------------------------------

	target: function() {
		return { name: this.nameInput.value.trim(), segment: this.segmentSelect.value };
	},

	// busy refuses a second request while one is under way.
	busy: function() {
		if (!this.request)
			return false;
		this.notify(_('A device is being added. Wait until it is done, or cancel it.'), 'warning');
		return true;
	},

	submitURI: function(uri) {
		if (this.busy())
			return Promise.resolve(false);
		uri = String(uri || '').trim();
		if (!validURI(uri)) {
			this.notify(_('That is not a Wi-Fi Easy Connect (DPP) QR code. Its text starts with “DPP:” and ends with “;;”.'), 'warning');
			return Promise.resolve(false);
		}
		var t = this.target();
		return this.start(callOnboard('qr', uri, '', '', t.name, t.segment));
	},

	submitPKEX: function() {
		if (this.busy())
			return Promise.resolve(false);
		var code = this.codeInput.value.trim(), ident = this.identInput.value.trim();
		if (code.length < 6) {
			this.notify(_('The code printed on the device has at least six characters.'), 'warning');
			return Promise.resolve(false);
		}
		var t = this.target();
		return this.start(callOnboard('pkex', '', code, ident, t.name, t.segment)).then(L.bind(function(ok) {
			// The code is a shared secret of this one exchange: not kept on the page.
			this.codeInput.value = '';
			return ok;
		}, this));
	},

	start: function(call) {
		this.stopCamera();
		this.stopPolling();
		return call.then(L.bind(function(p) {
			this.request = p;
			this.pollErrors = 0;
			this.showProgress(p);
			if (!TERMINAL[p.state]) {
				this.pollFn = L.bind(this.pollProgress, this);
				poll.add(this.pollFn, 1);
			}
			return true;
		}, this)).catch(L.bind(function(err) {
			this.showResult({ state: 'failed', error: errText(err) });
			return false;
		}, this));
	},

	pollProgress: function() {
		if (!this.request)
			return Promise.resolve();
		var req = this.request;
		return callProgress(req.id).then(L.bind(function(p) {
			this.pollErrors = 0;
			if (this.request === req)
				this.showProgress(p);
		}, this)).catch(L.bind(function(err) {
			// One lost answer (a busy router) is not the end of it; three are.
			if (++this.pollErrors < 3 || this.request !== req)
				return;
			this.showProgress({ id: req.id, state: 'failed', error: _('Lost track of the request: %s').format(errText(err)) });
		}, this));
	},

	stopPolling: function() {
		if (this.pollFn) {
			poll.remove(this.pollFn);
			this.pollFn = null;
		}
	},

	showProgress: function(p) {
		if (TERMINAL[p.state]) {
			this.stopPolling();
			this.showResult(p);
			return;
		}
		dom.content(this.progressBox, E('div', { 'class': 'alert-message notice', 'data-state': p.state }, [
			E('p', { 'class': 'spinning' }, [ p.step || STEPS[p.state] || _('Working…') ]),
			E('button', {
				'class': 'btn cbi-button cbi-button-negative',
				'data-action': 'cancel',
				'click': ui.createHandlerFn(this, 'handleCancel')
			}, [ _('Cancel') ])
		]));
	},

	showResult: function(p) {
		var box;
		if (p.state == 'connected') {
			var t = this.target();
			box = E('div', { 'class': 'alert-message success', 'data-state': 'connected' }, [
				E('h4', [ _('Done: the device is connected.') ]),
				E('p', [ t.segment
					? _('It has its own Wi-Fi credential and is in the “%s” segment. You find it under Devices.').format(t.segment)
					: _('It has its own Wi-Fi credential. You find it under Devices.') ])
			]);
		}
		else if (p.state == 'cancelled') {
			box = E('div', { 'class': 'alert-message notice', 'data-state': 'cancelled' }, [
				E('p', [ _('Stopped. Nothing was added.') ])
			]);
		}
		else {
			box = E('div', { 'class': 'alert-message warning', 'data-state': 'failed' }, [
				E('h4', [ _('The device could not be added.') ]),
				E('p', [ p.error || _('No reason was given.') ]),
				p.hint ? E('p', [ p.hint ]) : '',
				E('p', [ _('What to try:') ]),
				E('ul', [
					E('li', [ _('Make sure the device is switched on, near the router, and waiting to be set up (see its manual: often a button or a blinking light).') ]),
					E('li', [ _('Use the QR code or code from the device itself or its box, not from an app or the manual.') ]),
					E('li', [ _('If the device was set up before, reset it to factory settings and try again.') ]),
					E('li', [ _('If the Status tab says Wi-Fi Easy Connect is missing, fix that first.') ])
				])
			]);
		}
		this.request = null;
		dom.content(this.progressBox, box);
	},

	handleCancel: function() {
		if (!this.request)
			return;
		var id = this.request.id;
		this.stopPolling();
		return callCancel(id).then(L.bind(function() {
			this.showResult({ state: 'cancelled' });
		}, this)).catch(L.bind(function(err) {
			this.notify(_('Could not stop: %s').format(errText(err)));
			// Still under way, so keep following it.
			this.pollFn = L.bind(this.pollProgress, this);
			poll.add(this.pollFn, 1);
		}, this));
	},

	// --- QR decoding -------------------------------------------------

	loadJsQR: function() {
		if (window.jsQR)
			return Promise.resolve(window.jsQR);
		if (!this.jsQRPromise) {
			this.jsQRPromise = new Promise(function(resolveFn, rejectFn) {
				var s = E('script', { 'src': L.resource('trustjoin/jsQR.js') });
				s.onload = function() { window.jsQR ? resolveFn(window.jsQR) : rejectFn(new Error('jsQR did not load')) };
				s.onerror = function() { rejectFn(new Error(_('The QR decoder could not be loaded.'))) };
				document.head.appendChild(s);
			});
			this.jsQRPromise.catch(L.bind(function() { this.jsQRPromise = null }, this));
		}
		return this.jsQRPromise;
	},

	// decode finds a QR code in an image, canvas or video frame; it resolves
	// to its text or null.
	decode: function(source, width, height) {
		if (window.BarcodeDetector) {
			var det = new window.BarcodeDetector({ formats: [ 'qr_code' ] });
			return det.detect(source).then(function(codes) {
				return codes.length ? codes[0].rawValue : null;
			}).catch(L.bind(function() { return this.decodeJsQR(source, width, height) }, this));
		}
		return this.decodeJsQR(source, width, height);
	},

	decodeJsQR: function(source, width, height) {
		return this.loadJsQR().then(function(jsQR) {
			// Large photos are scaled down: jsQR is quick on 1000 px, slow on 4000.
			var scale = Math.min(1, 1200 / Math.max(width, height));
			var w = Math.max(1, Math.round(width * scale)), h = Math.max(1, Math.round(height * scale));
			var canvas = document.createElement('canvas');
			canvas.width = w;
			canvas.height = h;
			var ctx = canvas.getContext('2d');
			ctx.drawImage(source, 0, 0, w, h);
			var img = ctx.getImageData(0, 0, w, h);
			var code = jsQR(img.data, w, h, { inversionAttempts: 'attemptBoth' });
			return code ? code.data : null;
		});
	},

	handlePhoto: function(ev) {
		var file = ev.target.files && ev.target.files[0];
		if (!file)
			return;
		var url = URL.createObjectURL(file);
		var img = new Image();
		this.photoStatus.textContent = _('Reading the QR code…');
		return new Promise(function(resolveFn, rejectFn) {
			img.onload = resolveFn;
			img.onerror = function() { rejectFn(new Error(_('That file is not a picture this browser can open.'))) };
			img.src = url;
		}).then(L.bind(function() {
			return this.decode(img, img.naturalWidth, img.naturalHeight);
		}, this)).then(L.bind(function(text) {
			URL.revokeObjectURL(url);
			ev.target.value = '';
			if (text == null) {
				this.photoStatus.textContent = _('No QR code found in that picture. Take it again closer, sharp and well lit, with the whole code in view.');
				return false;
			}
			this.photoStatus.textContent = '';
			this.uriInput.value = text;
			return this.submitURI(text);
		}, this)).catch(L.bind(function(err) {
			URL.revokeObjectURL(url);
			this.photoStatus.textContent = errText(err);
			return false;
		}, this));
	},

	handleCamera: function() {
		if (this.stream)
			return this.stopCamera();
		var video = this.video;
		return navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false }).then(L.bind(function(stream) {
			this.stream = stream;
			video.srcObject = stream;
			video.style.display = '';
			this.cameraButton.textContent = _('Stop the camera');
			return video.play();
		}, this)).then(L.bind(function() {
			var scan = L.bind(function() {
				if (!this.stream)
					return;
				if (video.readyState < 2) {
					this.scanTimer = window.setTimeout(scan, 200);
					return;
				}
				this.decode(video, video.videoWidth, video.videoHeight).then(L.bind(function(text) {
					if (!this.stream)
						return;
					if (text != null && validURI(text.trim())) {
						this.uriInput.value = text.trim();
						return this.submitURI(text);
					}
					this.scanTimer = window.setTimeout(scan, 300);
				}, this)).catch(L.bind(function(err) {
					this.stopCamera();
					this.notify(errText(err));
				}, this));
			}, this);
			scan();
		}, this)).catch(L.bind(function(err) {
			this.stopCamera();
			this.notify(_('The camera could not be started (%s). Take a photo of the QR code instead.').format(errText(err)), 'warning');
		}, this));
	},

	stopCamera: function() {
		if (this.scanTimer)
			window.clearTimeout(this.scanTimer);
		this.scanTimer = null;
		if (this.stream) {
			this.stream.getTracks().forEach(function(t) { t.stop() });
			this.stream = null;
		}
		if (this.video) {
			this.video.srcObject = null;
			this.video.style.display = 'none';
		}
		if (this.cameraButton)
			this.cameraButton.textContent = _('Scan with the camera');
	},

	// --- phone ---------------------------------------------------------

	handlePhone: function() {
		return callPhoneStart().then(L.bind(function(r) {
			var id = r.id;
			// Only an image made by the router itself is shown.
			var qr = /^data:image\/(?:png|gif|svg\+xml);base64,[A-Za-z0-9+\/=]+$/.test(r.qr || '') ? r.qr : null;
			var stop = L.bind(function() {
				ui.hideModal();
				return callPhoneRevoke(id).catch(L.bind(function(err) {
					this.notify(_('Could not switch off the phone link: %s').format(errText(err)));
				}, this));
			}, this);
			ui.showModal(_('Use your phone'), [
				E('p', [ _('Scan this code with your phone’s camera. Your phone must be on this home Wi-Fi. The link works once, for a few minutes.') ]),
				qr ? E('img', { 'src': qr, 'alt': _('QR code of the link for your phone'), 'class': 'trustjoin-phone-qr', 'style': 'width:240px;height:240px;image-rendering:pixelated' }) : '',
				E('p', [ E('code', [ r.url || '' ]) ]),
				r.expires_at ? E('p', [ _('Valid until %s.').format(new Date(r.expires_at).toLocaleTimeString()) ]) : '',
				E('div', { 'class': 'right' }, [
					E('button', { 'class': 'btn cbi-button', 'data-action': 'phone-done', 'click': stop }, [ _('Done') ])
				])
			]);
		}, this)).catch(L.bind(function(err) {
			if (notOffered(err))
				this.notify(_('This trustjoin version cannot use a phone yet. Update trustjoin, or add the device here.'), 'warning');
			else
				this.notify(_('The phone link could not be made: %s').format(errText(err)));
		}, this));
	},

	// --- pre-authorised devices -----------------------------------------

	handlePreauthAdd: function() {
		var uri = this.uriInput.value.trim();
		if (!validURI(uri)) {
			this.notify(_('That is not a Wi-Fi Easy Connect (DPP) QR code. Its text starts with “DPP:” and ends with “;;”.'), 'warning');
			return Promise.resolve(false);
		}
		var t = this.target();
		return callPreauthAdd(uri, t.segment, t.name).then(L.bind(function() {
			this.uriInput.value = '';
			return this.refreshPreauth();
		}, this)).catch(L.bind(function(err) {
			this.notify(_('Could not remember the device: %s').format(errText(err)));
		}, this));
	},

	handlePreauthRemove: function(e) {
		ui.showModal(_('Forget %h?').format(e.name || e.id), [
			E('p', [ _('The device will no longer be let in by itself when it first appears.') ]),
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'btn cbi-button', 'click': ui.hideModal }, [ _('Cancel') ]),
				' ',
				E('button', {
					'class': 'btn cbi-button cbi-button-negative',
					'data-action': 'confirm',
					'click': ui.createHandlerFn(this, function() {
						return callPreauthRemove(e.id).then(L.bind(function() {
							ui.hideModal();
							return this.refreshPreauth();
						}, this)).catch(L.bind(function(err) {
							ui.hideModal();
							this.notify(_('Could not forget the device: %s').format(errText(err)));
						}, this));
					})
				}, [ _('Forget') ])
			])
		]);
	},

	refreshPreauth: function() {
		return callPreauthList().then(L.bind(function(r) {
			this.renderPreauth((r && r.entries) || []);
		}, this)).catch(L.bind(function(err) {
			this.notify(_('Could not load the remembered devices: %s').format(errText(err)));
		}, this));
	},

	renderPreauth: function(entries) {
		dom.content(this.preauthBody, entries.length ? entries.map(L.bind(function(e) {
			return E('tr', { 'class': 'tr', 'data-entry': e.id }, [
				E('td', { 'class': 'td' }, [ e.name || '—' ]),
				E('td', { 'class': 'td' }, [ e.segment || '' ]),
				E('td', { 'class': 'td' }, [ e.added_at ? new Date(e.added_at).toLocaleString() : '' ]),
				E('td', { 'class': 'td cbi-section-actions' }, [
					E('button', {
						'class': 'btn cbi-button cbi-button-negative',
						'data-action': 'forget',
						'click': ui.createHandlerFn(this, 'handlePreauthRemove', e)
					}, [ _('Forget') ])
				])
			]);
		}, this)) : [
			E('tr', { 'class': 'tr placeholder' }, [ E('td', { 'class': 'td', 'colspan': 4 }, [ _('None.') ]) ])
		]);
	},

	// --- page ------------------------------------------------------------

	render: function(data) {
		var segs = this.segments();
		var def = uci.get('trustjoin', 'onboarding', 'default_segment') || segs[0] || '';
		var secure = !!(window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);

		this.nameInput = E('input', { 'type': 'text', 'class': 'cbi-input-text', 'id': 'trustjoin-name', 'maxlength': 64, 'placeholder': _('e.g. Kitchen speaker') });
		this.segmentSelect = E('select', { 'class': 'cbi-input-select', 'id': 'trustjoin-segment' }, segs.map(function(s) {
			return E('option', { 'value': s, 'selected': s == def ? '' : null }, [ s ]);
		}));
		this.uriInput = E('textarea', { 'class': 'cbi-input-textarea', 'id': 'trustjoin-uri', 'rows': 3, 'style': 'width:100%', 'placeholder': 'DPP:…;;' });
		this.codeInput = E('input', { 'type': 'text', 'class': 'cbi-input-text', 'id': 'trustjoin-code', 'autocomplete': 'off', 'maxlength': 64 });
		this.identInput = E('input', { 'type': 'text', 'class': 'cbi-input-text', 'id': 'trustjoin-identifier', 'autocomplete': 'off' });
		this.photoStatus = E('p', { 'class': 'trustjoin-photo-status' });
		this.progressBox = E('div', { 'id': 'trustjoin-progress' });
		this.preauthBody = E('tbody');
		this.video = E('video', { 'playsinline': '', 'muted': '', 'style': 'display:none;max-width:100%' });
		this.cameraButton = E('button', {
			'class': 'btn cbi-button cbi-button-action', 'data-action': 'camera',
			'click': ui.createHandlerFn(this, 'handleCamera')
		}, [ _('Scan with the camera') ]);

		var photoInput = E('input', {
			'type': 'file', 'accept': 'image/*', 'capture': 'environment', 'id': 'trustjoin-photo',
			'change': L.bind(this.handlePhoto, this)
		});

		var section = function(title, descr, body) {
			return E('div', { 'class': 'cbi-section' }, [ E('h3', [ title ]), descr ? E('p', [ descr ]) : '' ].concat(body));
		};
		var field = function(label, input) {
			return E('div', { 'class': 'cbi-value' }, [
				E('label', { 'class': 'cbi-value-title', 'for': input.id }, [ label ]),
				E('div', { 'class': 'cbi-value-field' }, [ input ])
			]);
		};

		var qrBody = [];
		if (secure)
			qrBody.push(E('p', [ this.cameraButton ]), this.video);
		qrBody.push(
			E('p', [ secure
				? _('Or take a photo of the QR code:')
				: _('Take a photo of the QR code on the device or its box (the live camera works only when this page is opened over HTTPS):') ]),
			E('p', [ photoInput ]),
			this.photoStatus);

		this.renderPreauth((data[1] && data[1].entries) || []);

		return E('div', { 'class': 'cbi-map' }, [
			E('h2', [ _('Add a device') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('New devices that support Wi-Fi Easy Connect join with their own credential, without a Wi-Fi password. Switch the device on and follow one of the ways below.')
			]),
			section(_('About the device'), null, [
				field(_('Name (optional)'), this.nameInput),
				field(_('Segment'), this.segmentSelect)
			]),
			this.progressBox,
			section(_('Use your phone'), _('Show a code to open a page on your phone, then photograph the device’s QR code with it.'), [
				E('button', {
					'class': 'btn cbi-button cbi-button-action', 'data-action': 'phone',
					'click': ui.createHandlerFn(this, 'handlePhone')
				}, [ _('Use my phone') ])
			]),
			section(_('QR code'), _('Most devices have a QR code on a label or in the box.'), qrBody),
			section(_('QR code as text'), _('If you have the QR code’s text (it starts with “DPP:”), paste it here.'), [
				this.uriInput,
				E('div', { 'class': 'right' }, [
					E('button', {
						'class': 'btn cbi-button', 'data-action': 'preauth-add',
						'title': _('For a device that is not switched on yet: it is let in by itself when it first appears.'),
						'click': ui.createHandlerFn(this, 'handlePreauthAdd')
					}, [ _('Remember for later') ]),
					' ',
					E('button', {
						'class': 'btn cbi-button cbi-button-positive', 'data-action': 'add-uri',
						'click': ui.createHandlerFn(this, function() { return this.submitURI(this.uriInput.value) })
					}, [ _('Add now') ])
				])
			]),
			section(_('Code'), _('Some devices have a setup code instead of a QR code.'), [
				field(_('Code'), this.codeInput),
				field(_('Identifier (if the device shows one)'), this.identInput),
				E('div', { 'class': 'right' }, [
					E('button', {
						'class': 'btn cbi-button cbi-button-positive', 'data-action': 'add-code',
						'click': ui.createHandlerFn(this, 'submitPKEX')
					}, [ _('Add') ])
				])
			]),
			section(_('Remembered devices'), _('Devices to let in by themselves when they first appear.'), [
				E('table', { 'class': 'table', 'id': 'trustjoin-preauth' }, [
					E('thead', [ E('tr', { 'class': 'tr table-titles' }, [
						E('th', { 'class': 'th' }, [ _('Name') ]),
						E('th', { 'class': 'th' }, [ _('Segment') ]),
						E('th', { 'class': 'th' }, [ _('Added') ]),
						E('th', { 'class': 'th' }, [ '' ])
					]) ]),
					this.preauthBody
				])
			])
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
