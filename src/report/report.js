/* The report page's flame graphs: icicle layout, zoom on click, search.
 * Everything is built with createElement and textContent: frame names come
 * from the profiled program and are never parsed as markup. */
(function () {
	'use strict';
	var ROW = 18;
	var MIN_PCT = 0.05; /* narrower frames are not drawn (they still count in search) */

	function build(d) {
		var st = d.stride, a = d.nodes, stack = [], root = null, maxDepth = 0;
		for (var i = 0; i + st <= a.length; i += st) {
			var n = {name: d.names[a[i]], v: a[i + 1], b: d.diff ? a[i + 2] : 0,
				depth: a[i + st - 1], kids: [], parent: null, x: 0, next: 0};
			while (stack.length > n.depth) stack.pop();
			if (stack.length) {
				var p = stack[stack.length - 1];
				n.parent = p;
				n.x = p.x + p.next;
				p.next += n.v;
				p.kids.push(n);
			} else if (!root) {
				root = n;
			} else {
				continue; /* a second root: malformed, ignored */
			}
			if (n.depth > maxDepth) maxDepth = n.depth;
			stack.push(n);
		}
		return {root: root, maxDepth: maxDepth};
	}

	function fmt(v, unit) {
		var a = Math.abs(v), s;
		if (unit === 'bytes') {
			var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], k = 0;
			while (a >= 1024 && k < u.length - 1) { a /= 1024; k++; }
			s = (k ? a.toFixed(1) : String(a)) + ' ' + u[k];
		} else if (unit === 'nanoseconds') {
			s = a >= 1e9 ? (a / 1e9).toFixed(2) + ' s' : (a / 1e6).toFixed(1) + ' ms';
		} else {
			s = String(a) + (unit && unit !== 'count' ? ' ' + unit : '');
		}
		return (v < 0 ? '-' : '') + s;
	}

	function hash(s) {
		var h = 0;
		for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
		return Math.abs(h);
	}

	function colour(n, d, maxDelta) {
		if (!d.diff) {
			var h = hash(n.name);
			return 'hsl(' + (h % 50 + 5) + ',' + (60 + h % 25) + '%,' + (62 + (h >> 3) % 14) + '%)';
		}
		var delta = n.v - n.b, r = maxDelta > 0 ? Math.min(1, Math.abs(delta) / maxDelta) : 0;
		var light = 94 - Math.round(r * 44);
		return delta >= 0 ? 'hsl(0,80%,' + light + '%)' : 'hsl(215,80%,' + light + '%)';
	}

	function Graph(box, d) {
		var t = build(d);
		this.box = box;
		this.d = d;
		this.root = t.root;
		this.maxDepth = t.maxDepth;
		this.graph = box.querySelector('.fg-graph');
		this.status = box.querySelector('.fg-status');
		this.search = box.querySelector('.fg-search');
		this.maxDelta = 0;
		var all = [this.root];
		while (all.length) {
			var n = all.pop();
			var delta = Math.abs(n.v - n.b);
			if (n !== this.root && delta > this.maxDelta) this.maxDelta = delta;
			for (var i = 0; i < n.kids.length; i++) all.push(n.kids[i]);
		}
		var self = this;
		this.graph.addEventListener('click', function (ev) {
			var el = ev.target.closest('.fg-n');
			if (el && el.fgNode) self.render(el.fgNode);
		});
		box.querySelector('.fg-reset').addEventListener('click', function () { self.render(self.root); });
		this.search.addEventListener('input', function () { self.mark(); });
		this.render(this.root);
	}

	Graph.prototype.tip = function (n) {
		var d = this.d, tot = this.root.v || 1;
		var s = n.name + '\n' + fmt(n.v, d.unit) + ' (' + (100 * n.v / tot).toFixed(2) + '% of ' + d.type + ')';
		if (d.diff) {
			var delta = n.v - n.b;
			s += '\nbefore ' + fmt(n.b, d.unit) + ', change ' + (delta >= 0 ? '+' : '') + fmt(delta, d.unit);
		}
		return s;
	};

	Graph.prototype.render = function (focus) {
		var g = this.graph, span = focus.v || 1, x0 = focus.x, frag = document.createDocumentFragment();
		this.focus = focus;
		g.textContent = '';
		g.style.height = ((this.maxDepth + 1) * ROW) + 'px';
		/* the focus's ancestors, full width, then its subtree scaled to the width */
		for (var a = focus.parent; a; a = a.parent) frag.appendChild(this.node(a, 0, 100, true));
		var todo = [focus];
		while (todo.length) {
			var n = todo.pop();
			var left = 100 * (n.x - x0) / span, width = 100 * n.v / span;
			if (width < MIN_PCT) continue;
			frag.appendChild(this.node(n, left, width, false));
			for (var i = n.kids.length - 1; i >= 0; i--) todo.push(n.kids[i]);
		}
		g.appendChild(frag);
		this.status.textContent = focus === this.root ? 'click a frame to zoom' :
			'zoomed on ' + focus.name + ' (' + (100 * focus.v / (this.root.v || 1)).toFixed(1) + '%)';
		this.mark();
	};

	Graph.prototype.node = function (n, left, width, above) {
		var el = document.createElement('div');
		el.className = 'fg-n' + (above ? ' fg-above' : '');
		el.style.left = left + '%';
		el.style.width = width + '%';
		el.style.top = (n.depth * ROW) + 'px';
		el.style.background = colour(n, this.d, this.maxDelta);
		el.textContent = n.name;
		el.title = this.tip(n);
		el.fgNode = n;
		return el;
	};

	/* Highlights frames whose name contains the search text; sums the outermost matches. */
	Graph.prototype.mark = function () {
		var q = this.search.value.toLowerCase(), els = this.graph.children;
		for (var i = 0; i < els.length; i++) {
			var hit = q !== '' && els[i].fgNode.name.toLowerCase().indexOf(q) >= 0;
			els[i].classList.toggle('fg-match', hit);
		}
		var out = this.box.querySelector('.fg-found');
		if (q === '') { out.textContent = ''; return; }
		var sum = 0, todo = [this.root];
		while (todo.length) {
			var n = todo.pop();
			if (n.name.toLowerCase().indexOf(q) >= 0) { sum += n.v; continue; }
			for (var k = 0; k < n.kids.length; k++) todo.push(n.kids[k]);
		}
		out.textContent = 'matched ' + (100 * sum / (this.root.v || 1)).toFixed(1) + '%';
	};

	var boxes = document.querySelectorAll('.fg'), drawn = 0;
	for (var i = 0; i < boxes.length; i++) {
		var data = boxes[i].querySelector('script.fg-data');
		try {
			new Graph(boxes[i], JSON.parse(data.textContent));
			drawn++;
		} catch (e) {
			boxes[i].querySelector('.fg-status').textContent = 'cannot draw this profile: ' + e.message;
		}
	}
	document.body.setAttribute('data-flamegraphs', String(drawn));
})();
