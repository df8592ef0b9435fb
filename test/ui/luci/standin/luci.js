/*
 * A minimal stand-in for the parts of LuCI (openwrt/luci, luci-base) the
 * trustjoin views use, so the real view files run outside a router: in
 * jsdom under node, and in Chromium from harness.html. It behaves like
 * LuCI where the views depend on it: E()/dom put a bare string in as HTML
 * but strings inside an array as text, ui.showModal puts its title in as
 * HTML, rpc.declare maps positional arguments to named params and rejects
 * with LuCI's message on a ubus error when declared with reject: true.
 *
 * What the views do is recorded in window.__luci: calls (every RPC call:
 * object, method, params), notifications, polls; the backend answering the
 * calls is window.__luciBackend(object, method, params) -> reply or
 * Promise; a reply { __ubus: N } stands for ubus status N.
 */
(function(window, document) {
	'use strict';

	var rec = window.__luci = {
		calls: [],
		notifications: [],
		polls: [],
		forms: [],
		translated: {}
	};

	window._ = function(s) {
		rec.translated[s] = true;
		return s;
	};

	var esc = function(s) {
		return String(s).replace(/[&<>"']/g, function(c) {
			return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
		});
	};

	// LuCI's String.prototype.format, for the conversions the views use.
	String.prototype.format = function() {
		var args = arguments, i = 0;
		return String(this).replace(/%([%sdh])/g, function(m, c) {
			if (c == '%')
				return '%';
			var v = args[i++];
			switch (c) {
			case 's': return (v == null) ? '' : String(v);
			case 'd': return String(Math.floor(Number(v)));
			case 'h': return esc(v == null ? '' : v);
			}
		});
	};

	// Classes as in luci.js: extend() makes a constructor calling __init__.
	function extend(Base, props) {
		var C = function() {
			if (typeof this.__init__ == 'function')
				this.__init__.apply(this, arguments);
		};
		C.prototype = Object.create(Base.prototype);
		Object.keys(props).forEach(function(k) { C.prototype[k] = props[k] });
		C.prototype.constructor = C;
		C.extend = function(p) { return extend(C, p) };
		return C;
	}
	var Base = function() {};
	Base.extend = function(p) { return extend(Base, p) };
	var baseclass = Base;

	// dom and E as in luci.js (LuCI.dom).
	var dom = {
		elem: function(e) { return (typeof(e) === 'object' && e !== null && 'nodeType' in e) },
		append: function(node, children) {
			if (!this.elem(node))
				return null;
			if (Array.isArray(children)) {
				for (var i = 0; i < children.length; i++)
					if (this.elem(children[i]))
						node.appendChild(children[i]);
					else if (children[i] !== null && children[i] !== undefined)
						node.appendChild(document.createTextNode('' + children[i]));
				return node.lastChild;
			}
			else if (typeof(children) === 'function')
				return this.append(node, children(node));
			else if (this.elem(children))
				return node.appendChild(children);
			else if (children !== null && children !== undefined) {
				node.innerHTML = '' + children;
				return node.lastChild;
			}
			return null;
		},
		content: function(node, children) {
			if (!this.elem(node))
				return null;
			while (node.firstChild)
				node.removeChild(node.firstChild);
			return this.append(node, children);
		},
		attr: function(node, attr) {
			for (var key in attr) {
				if (!attr.hasOwnProperty(key) || attr[key] === null || attr[key] === undefined)
					continue;
				switch (typeof(attr[key])) {
				case 'function': node.addEventListener(key, attr[key]); break;
				case 'object': node.setAttribute(key, JSON.stringify(attr[key])); break;
				default: node.setAttribute(key, attr[key]);
				}
			}
		},
		create: function() {
			var html = arguments[0],
			    attr = (arguments[1] instanceof Object && !Array.isArray(arguments[1]) && !this.elem(arguments[1])) ? arguments[1] : null,
			    data = attr ? arguments[2] : arguments[1];
			var elem = this.elem(html) ? html : document.createElement(html);
			this.attr(elem, attr);
			this.append(elem, data);
			return elem;
		}
	};
	window.E = function() { return dom.create.apply(dom, arguments) };

	var L = window.L = {
		env: { resource: '/luci-static/resources', sessionid: '0'.repeat(32) },
		bind: function(fn, self) {
			var args = Array.prototype.slice.call(arguments, 2);
			return function() { return fn.apply(self, args.concat(Array.prototype.slice.call(arguments))) };
		},
		resolveDefault: function(value, defvalue) {
			return Promise.resolve(value).catch(function() { return defvalue });
		},
		url: function() {
			return [ '/cgi-bin/luci' ].concat(Array.prototype.slice.call(arguments)).join('/');
		},
		resource: function() {
			return [ L.env.resource ].concat(Array.prototype.slice.call(arguments)).join('/');
		},
		isObject: function(v) { return v != null && typeof(v) == 'object' },
		dom: dom
	};

	var statusText = { 2: 'Invalid argument', 3: 'Method not found', 4: 'Resource not found', 5: 'No data received', 6: 'Permission denied', 7: 'Request timeout' };

	var rpc = {
		declare: function(opts) {
			return function() {
				var args = Array.prototype.slice.call(arguments), params = {};
				(opts.params || []).forEach(function(p, i) { params[p] = args[i] });
				rec.calls.push({ object: opts.object, method: opts.method, params: params });
				return Promise.resolve().then(function() {
					return window.__luciBackend(opts.object, opts.method, params);
				}).then(function(reply) {
					if (reply && typeof(reply.__ubus) == 'number') {
						if (opts.reject)
							throw new Error('RPC call to %s/%s failed with ubus code %d: %s'.format(
								opts.object, opts.method, reply.__ubus, statusText[reply.__ubus] || 'Unknown error code'));
						return reply.__ubus;
					}
					if (opts.expect) {
						var key = Object.keys(opts.expect)[0], def = opts.expect[key];
						var v = (key == '' || reply == null) ? reply : reply[key];
						if (v == null || Object.prototype.toString.call(v) != Object.prototype.toString.call(def))
							v = def;
						reply = v;
					}
					return opts.filter ? opts.filter(reply, params) : reply;
				});
			};
		}
	};

	var modalDiv = null;
	var ui = {
		showModal: function(title, children) {
			if (!modalDiv) {
				modalDiv = document.body.appendChild(E('div', { 'id': 'modal_overlay' }, [ E('div', { 'class': 'modal', 'role': 'dialog' }) ]));
			}
			var dlg = modalDiv.firstElementChild;
			dom.content(dlg, E('h4', {}, title));
			dom.append(dlg, children);
			document.body.classList.add('modal-overlay-active');
			return dlg;
		},
		hideModal: function() {
			document.body.classList.remove('modal-overlay-active');
		},
		addNotification: function(title, children, type) {
			var box = document.getElementById('tabmenu-notifications') ||
				document.body.insertBefore(E('div', { 'id': 'tabmenu-notifications' }), document.body.firstChild);
			var msg = E('div', { 'class': 'alert-message ' + (type || '') }, [ title ? E('h4', {}, title) : '' ]);
			dom.append(msg, children);
			box.appendChild(msg);
			rec.notifications.push({ type: type, text: msg.textContent });
			return msg;
		},
		createHandlerFn: function(ctx, fn) {
			var args = Array.prototype.slice.call(arguments, 2);
			if (typeof(fn) == 'string')
				fn = ctx[fn];
			return function(ev) {
				var btn = ev && ev.currentTarget;
				var res = fn.apply(ctx, args.concat([ ev ]));
				if (btn && btn.classList && res && typeof(res.then) == 'function') {
					btn.classList.add('spinning');
					btn.disabled = true;
					res.then(function() { btn.classList.remove('spinning'); btn.disabled = false },
						function() { btn.classList.remove('spinning'); btn.disabled = false });
				}
				return res;
			};
		}
	};

	var poll = {
		add: function(fn, interval) {
			if (rec.polls.some(function(p) { return p.fn === fn }))
				return false;
			rec.polls.push({ fn: fn, interval: interval });
			return true;
		},
		remove: function(fn) {
			var n = rec.polls.length;
			rec.polls = rec.polls.filter(function(p) { return p.fn !== fn });
			return rec.polls.length != n;
		}
	};
	// tick runs every polled function once, as LuCI's poll loop would.
	rec.tick = function() {
		return Promise.all(rec.polls.slice().map(function(p) { return Promise.resolve(p.fn()) }));
	};

	var uciData = function() { return window.__luciUCI || {} };
	var uci = {
		load: function(conf) {
			return uciData()[conf] ? Promise.resolve([ conf ]) : Promise.reject(new Error('uci: no config ' + conf));
		},
		sections: function(conf, type) {
			var c = uciData()[conf] || {};
			return Object.keys(c).filter(function(n) { return !type || c[n]['.type'] == type }).map(function(n) {
				return Object.assign({ '.name': n }, c[n]);
			});
		},
		get: function(conf, sid, opt) {
			var s = (uciData()[conf] || {})[sid];
			if (!s)
				return null;
			return opt == null ? s : s[opt];
		}
	};

	// form: records the Map's structure and renders one field per option
	// with its UCI value, so tests see what a person would see.
	var AbstractValue = Base.extend({
		__init__: function(section, option, title, description) {
			this.section = section;
			this.option = option;
			this.title = title;
			this.description = description;
			this.values = [];
		},
		value: function(key, label) { this.values.push({ key: key, label: label != null ? label : key }) },
		kind: 'Value',
		renderField: function(sid) {
			var v = uci.get(this.section.map.config, sid, this.option);
			if (v == null)
				v = this.default != null ? this.default : '';
			var input;
			if (this.kind == 'Flag')
				input = E('input', { 'type': 'checkbox', 'checked': v == '1' ? '' : null });
			else if (this.kind == 'ListValue')
				input = E('select', {}, this.values.map(function(o) {
					return E('option', { 'value': o.key, 'selected': o.key == v ? '' : null }, [ o.label ]);
				}));
			else if (this.kind == 'DynamicList')
				input = E('ul', {}, (Array.isArray(v) ? v : (v ? [ v ] : [])).map(function(x) { return E('li', [ x ]) }));
			else
				input = E('input', { 'type': 'text', 'value': v });
			input.setAttribute('name', 'cbid.%s.%s.%s'.format(this.section.map.config, sid, this.option));
			return E('div', { 'class': 'cbi-value', 'data-name': this.option, 'data-widget': this.kind }, [
				E('label', { 'class': 'cbi-value-title' }, [ this.title || this.option ]),
				E('div', { 'class': 'cbi-value-field' }, [ input, this.description ? E('div', { 'class': 'cbi-value-description' }, [ this.description ]) : '' ])
			]);
		}
	});
	var form = {
		Value: AbstractValue.extend({ kind: 'Value' }),
		Flag: AbstractValue.extend({ kind: 'Flag' }),
		ListValue: AbstractValue.extend({ kind: 'ListValue' }),
		DynamicList: AbstractValue.extend({ kind: 'DynamicList' })
	};
	var AbstractSection = Base.extend({
		__init__: function(map, a, b, c, d) {
			this.map = map;
			this.options = [];
			if (this.kind == 'NamedSection') {
				this.sid = a; this.sectiontype = b; this.title = c; this.description = d;
			}
			else {
				this.sectiontype = a; this.title = b; this.description = c;
			}
		},
		option: function(Cls, option, title, description) {
			var o = new Cls(this, option, title, description);
			this.options.push(o);
			return o;
		},
		render: function() {
			var ids = this.kind == 'NamedSection' ? [ this.sid ]
				: uci.sections(this.map.config, this.sectiontype).map(function(s) { return s['.name'] });
			var self = this;
			return E('div', { 'class': 'cbi-section', 'data-section-type': this.sectiontype }, [
				this.title ? E('h3', [ this.title ]) : '',
				this.description ? E('div', { 'class': 'cbi-section-descr' }, [ this.description ]) : ''
			].concat(ids.map(function(sid) {
				return E('div', { 'class': 'cbi-section-node', 'data-section-id': sid }, [
					self.kind == 'TypedSection' && !self.anonymous ? E('h4', [ sid ]) : ''
				].concat(self.options.map(function(o) { return o.renderField(sid) })));
			})));
		}
	});
	form.TypedSection = AbstractSection.extend({ kind: 'TypedSection' });
	form.NamedSection = AbstractSection.extend({ kind: 'NamedSection' });
	form.Map = Base.extend({
		__init__: function(config, title, description) {
			this.config = config;
			this.title = title;
			this.description = description;
			this.sections = [];
			rec.forms.push(this);
		},
		section: function(Cls) {
			var s = new (Function.prototype.bind.apply(Cls, [ null, this ].concat(Array.prototype.slice.call(arguments, 1))))();
			this.sections.push(s);
			return s;
		},
		render: function() {
			var self = this;
			return uci.load(this.config).then(function() {
				return E('div', { 'class': 'cbi-map', 'data-config': self.config }, [
					E('h2', [ self.title ]),
					E('div', { 'class': 'cbi-map-descr' }, [ self.description || '' ])
				].concat(self.sections.map(function(s) { return s.render() })));
			});
		}
	});

	var view = Base.extend({
		__init__: function() {
			var self = this;
			this.ready = Promise.resolve(this.load()).then(function(data) {
				return self.render(data);
			}).then(function(node) {
				dom.content(document.getElementById('view'), node);
				return node;
			});
		},
		load: function() {},
		render: function() {}
	});

	var modules = { baseclass: baseclass, view: view, rpc: rpc, ui: ui, poll: poll, dom: dom, uci: uci, form: form };

	// compile runs a class file's source as luci.js does: its 'require x'
	// lines name the modules passed in (the stand-in's own, or the app's
	// classes under luci-static/resources, loaded once and instantiated as
	// luci.js does), and it returns the class.
	var classes = {};
	var fetchSource = function(url) {
		return (window.__luciFetch || function(u) {
			return fetch(u).then(function(r) { if (!r.ok) throw new Error('HTTP ' + r.status + ' for ' + u); return r.text(); });
		})(url);
	};
	var requireClass = function(name) {
		if (modules[name])
			return Promise.resolve(modules[name]);
		if (!/^trustjoin\./.test(name))
			return Promise.reject(new Error('the stand-in has no module ' + name));
		if (!classes[name])
			classes[name] = Promise.resolve(fetchSource(L.resource(name.replace(/\./g, '/') + '.js')))
				.then(compile).then(function(Cls) { return new Cls() });
		return classes[name];
	};
	var compile = function(source) {
		var names = [], deps = [], re = /^\s*'require\s+([a-zA-Z0-9_.]+)(?:\s+as\s+([a-zA-Z_]\w*))?'\s*;?/mg, m;
		var head = source.split('\n').filter(function(l) { return /^\s*'(use strict|require [^']+)'\s*;?\s*$/.test(l) }).join('\n');
		while ((m = re.exec(head)) != null) {
			names.push(m[2] || m[1].replace(/[^a-zA-Z0-9_]/g, '_'));
			deps.push(requireClass(m[1]));
		}
		return Promise.all(deps).then(function(args) {
			return Function.apply(null, names.concat([ source ])).apply(null, args);
		});
	};

	// loadView runs a view's source as luci.js does and instantiates the
	// class it returns.
	rec.loadView = function(source) {
		return compile(source).then(function(Cls) {
			var instance = new Cls();
			// A view renders itself; another module (a Status → Overview
			// include) is loaded and rendered by its page, as here.
			if (!instance.ready)
				instance.ready = Promise.resolve(instance.load()).then(function(data) {
					return Promise.resolve(instance.render(data)).then(function(node) {
						dom.content(document.getElementById('view'), node);
						return node;
					});
				});
			return instance.ready.then(function(node) { return { view: instance, node: node } });
		});
	};
})(window, document);
