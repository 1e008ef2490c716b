"""The rules a task's code keeps, checked by reading its syntax tree (Python's ``ast``), not by running it.

Each task of ``assignment.json`` may ask for three things (``assignment.py``):

1. ``forbidden_imports``: modules its code may not use, e.g. a naive convolution may not call
   ``minidl.layers.conv``. Every name the task's functions read is followed back to the import
   that bound it (``import minidl as md`` ... ``md.functional.conv2d``; ``from minidl.layers
   import conv``; an import inside the function; a module-level alias ``f = conv2d_forward``),
   and, for a package the grader has imported, to where the object was defined, so that a
   re-export (``minidl.conv2d`` is ``minidl.functional.conv.conv2d``) is caught too.
2. ``vectorised``: a function that must not loop in Python over the batch or the output
   positions. Its data arguments (the input ``x``, ``dout``, an element of a cache tuple) are
   followed through every assignment ("taint"): a ``for`` loop or comprehension whose iterable
   depends on them (``range(N)``, ``range(out_h)``, ``for image in x``) is refused, as are
   ``while`` loops and the loops in disguise (``np.vectorize``, ``np.apply_along_axis``, ``map``
   over data). A loop over the kernel taps, ``range(kernel_h)`` with the kernel size taken from
   the weights or an argument, does not depend on the data and stays allowed.
3. ``must_call``: a function that must compute its result with another one, e.g. the backward
   pass as a full convolution computed by the student's own forward pass.

The functions a task names are checked together with every function of the student's files
they call (a helper in the same file, or one imported from another graded file), so moving the
forbidden call into a helper changes nothing. Dynamic imports (``__import__``, ``importlib``,
``exec``, ``eval``, ``getattr`` on a module) are refused outright, since they would hide a name
from this reading. What a syntax tree cannot show (data-dependent tricks) is left to the tests.

Each refusal is a ``Violation`` whose message names the task, the function, the line and the
rule broken.
"""

import ast
import importlib
import sys
from dataclasses import dataclass

from minidl.homework.assignment import data_argument

__all__ = ["Violation", "check_task", "RULES"]

# The rule names a Violation can carry, and what each protects.
RULES = {
    "syntax": "the file must parse",
    "definition": "each of the task's functions is defined with def (or class) in its module",
    "forbidden import": "the task may not use the modules it lists",
    "dynamic import": "no __import__, importlib, exec, eval or getattr on a module",
    "loop": "a vectorised function does not loop over the batch or the output positions",
    "must call": "the function computes its result with the function the task names",
}

# Calls that run a Python function once per element: loops the for-rule would not see.
_HIDDEN_LOOPS = {"vectorize", "frompyfunc", "apply_along_axis", "apply_over_axes", "fromfunction", "piecewise"}
_DYNAMIC = {"__import__", "exec", "eval", "compile"}
_EMPTY = frozenset()


@dataclass(frozen=True)
class Violation:
    """One broken rule: the task, the rule's name (a key of RULES), where, and a sentence for the student."""

    task: str
    rule: str
    path: str
    line: int
    message: str


class _Module:
    """One graded file: its syntax tree, its top-level functions and classes, and the names its
    top-level imports and aliases bind (name -> dotted path)."""

    def __init__(self, name, path, text):
        self.name, self.path = name, path
        self.tree = ast.parse(text, filename=path)
        self.defs = {node.name: node for node in self.tree.body
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
        self.aliases = {}
        for node in _top_level_statements(self.tree.body):
            if isinstance(node, ast.Import | ast.ImportFrom):
                self.aliases.update(_imported_names(node))
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                dotted = _dotted(node.value, self.aliases)
                if dotted is not None:
                    self.aliases[node.targets[0].id] = dotted


def _top_level_statements(body):
    """The module's statements outside functions and classes, looking inside if / try / with blocks."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        yield node
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                yield from _top_level_statements(inner)
        for handler in getattr(node, "handlers", []):
            yield from _top_level_statements(handler.body)


def _imported_names(node):
    """name -> dotted path for the names one import statement binds."""
    if isinstance(node, ast.Import):
        # "import a.b" binds a; "import a.b as c" binds c to a.b.
        return {alias.asname or alias.name.split(".")[0]: alias.name if alias.asname else alias.name.split(".")[0]
                for alias in node.names}
    base = "." * node.level + (node.module or "")
    return {alias.asname or alias.name: f"{base}.{alias.name}" if base else alias.name
            for alias in node.names if alias.name != "*"}


def _imported_modules(node):
    """The dotted modules (and module.name) an import statement asks for."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    return [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]


def _chain(node):
    """(root Name node, [attributes]) of an attribute chain a.b.c, or (None, []) when it does not start at a name."""
    attributes = []
    while isinstance(node, ast.Attribute):
        attributes.append(node.attr)
        node = node.value
    return (node, attributes[::-1]) if isinstance(node, ast.Name) else (None, [])


def _dotted(node, aliases):
    """The dotted path an expression names through the import aliases (md.functional -> minidl.functional), or None."""
    root, attributes = _chain(node)
    if root is None or root.id not in aliases:
        return None
    return ".".join([aliases[root.id], *attributes])


def _resolve(dotted):
    """Where ``dotted`` was defined, when its package is already imported (minidl.conv2d ->
    minidl.functional.conv.conv2d); ``dotted`` itself otherwise."""
    parts = dotted.split(".")
    if parts[0] not in sys.modules:
        return dotted
    try:
        obj = sys.modules[parts[0]]
        for i, part in enumerate(parts[1:], start=1):
            if not hasattr(obj, part):
                obj = importlib.import_module(".".join(parts[:i + 1]))
            else:
                obj = getattr(obj, part)
    except Exception:   # an import failing for any reason leaves the written name to judge by
        return dotted
    if isinstance(obj, type(sys)):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    return f"{module}.{getattr(obj, '__qualname__', parts[-1])}" if isinstance(module, str) else dotted


def _forbidden(dotted, forbidden):
    """The first forbidden module that ``dotted`` (as written, or where it was defined) lies in, or None."""
    for name in (dotted, _resolve(dotted)):
        for module in forbidden:
            if name == module or name.startswith(module + "."):
                return module
    return None


class _Checker:
    """Checks one task against the student's graded files."""

    def __init__(self, task, modules):
        self.task, self.modules = task, modules
        self.module = modules[task.module_name]
        self.violations = {}

    def report(self, rule, node, message, module=None):
        module = module or self.module
        line = getattr(node, "lineno", 0)
        self.violations.setdefault((rule, module.path, line),
                                   Violation(self.task.id, rule, module.path, line, f"Task {self.task.id}: {message}"))

    # -- which code belongs to the task

    def helper(self, module, name_node, local_defs=None):
        """(module, def node) of a function of the student's files that an expression names, or None."""
        if isinstance(name_node, ast.Name):
            if local_defs and name_node.id in local_defs:
                return module, local_defs[name_node.id]
            if name_node.id in module.defs:
                return module, module.defs[name_node.id]
            dotted = module.aliases.get(name_node.id)
        else:
            dotted = _dotted(name_node, module.aliases)
        if dotted is None:
            return None
        owner, _, function = dotted.rpartition(".")
        if owner in self.modules and function in self.modules[owner].defs:
            return self.modules[owner], self.modules[owner].defs[function]
        return None

    def scope(self, roots):
        """Every (module, def) reachable from ``roots`` through calls and references, roots first."""
        seen, order, queue = set(), [], list(roots)
        while queue:
            module, node = queue.pop(0)
            if id(node) in seen:
                continue
            seen.add(id(node))
            order.append((module, node))
            for child in ast.walk(node):
                if isinstance(child, ast.Name | ast.Attribute):
                    found = self.helper(module, child)
                    if found is not None:
                        queue.append(found)
        return order

    def task_roots(self):
        """The task's functions as defined in its module, stubs left out (they break no rule: their tests fail)."""
        roots = []
        for function in self.task.functions:
            node = self.module.defs.get(function)
            if node is None:
                self.report("definition", self.module.tree,
                            f"{self.module.name}.py defines no function or class {function} with def or class")
            elif not _is_stub(node):
                roots.append((self.module, node))
        return roots

    # -- rule 1 and the dynamic imports

    def check_names(self, module, node):
        forbidden = self.task.forbidden_imports
        local = {}
        for child in ast.walk(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                local.update(_imported_names(child))
                for name in _imported_modules(child):
                    hit = _forbidden(name, forbidden) if forbidden else None
                    if hit:
                        self.report("forbidden import", child, f"{_name(node)} imports {name} (line {child.lineno}): "
                                    f"this task may not use {hit}", module)
        # A parameter or local variable of the function hides a module-level name it shares.
        bound = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)} | \
                {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        aliases = {**{name: path for name, path in module.aliases.items() if name not in bound}, **local}
        inner = set()   # Names that are the root of a chain already judged whole
        for child in ast.walk(node):
            if isinstance(child, ast.Attribute) and id(child) not in inner:
                root, attributes = _chain(child)
                if root is not None:
                    inner.update(id(n) for n in ast.walk(child) if isinstance(n, ast.Name | ast.Attribute))
                    self.check_use(module, node, child, aliases, root.id, attributes)
            elif isinstance(child, ast.Name) and id(child) not in inner:
                self.check_use(module, node, child, aliases, child.id, [])
            elif isinstance(child, ast.Call):
                self.check_dynamic(module, node, child, aliases)

    def check_use(self, module, function, node, aliases, root, attributes):
        if root in _DYNAMIC or (root == "sys" and attributes[:1] == ["modules"]) or \
                aliases.get(root, "").split(".")[0] == "importlib":
            self.report("dynamic import", node, f"{_name(function)} uses {'.'.join([root, *attributes])} "
                        f"(line {node.lineno}): dynamic imports and code are not allowed in graded code", module)
            return
        if root not in aliases or not self.task.forbidden_imports:
            return
        dotted = ".".join([aliases[root], *attributes])
        hit = _forbidden(dotted, self.task.forbidden_imports)
        if hit:
            self.report("forbidden import", node, f"{_name(function)} uses {dotted} (line {node.lineno}): "
                        f"this task may not use {hit}", module)

    def check_dynamic(self, module, function, call, aliases):
        if isinstance(call.func, ast.Name) and call.func.id == "getattr" and call.args:
            root, _ = _chain(call.args[0])
            if root is not None and root.id in aliases:
                self.report("dynamic import", call, f"{_name(function)} calls getattr on the module "
                            f"{aliases[root.id]} (line {call.lineno}): name what you use directly", module)

    # -- rule 3

    def check_must_call(self, roots):
        for module, node in roots:
            required = self.task.must_call.get(node.name, ())
            called = {_called_name(child.func) for _, function in self.scope([(module, node)])
                      for child in ast.walk(function) if isinstance(child, ast.Call)}
            for name in required:
                if name not in called:
                    self.report("must call", node, f"{node.name} must compute its result with {name}, "
                                f"and never calls it", module)

    # -- rule 2

    def check_loops(self, roots):
        for module, node in roots:
            arguments = self.task.vectorised.get(node.name)
            if arguments is None:
                continue
            taints = {}
            for argument in arguments:
                name, index = data_argument(argument)
                if index is None:
                    taints[name] = frozenset({argument})
                else:
                    current = taints.get(name, ())
                    current = tuple(current) + (_EMPTY,) * (index + 1 - len(current))
                    taints[name] = current[:index] + (frozenset({argument}),) + current[index + 1:]
            _Loops(self, module, node).run(taints)

    def run(self):
        roots = self.task_roots()
        for module, node in self.scope(roots):
            self.check_names(module, node)
        self.check_must_call(roots)
        self.check_loops(roots)
        return sorted(self.violations.values(), key=lambda v: (v.path, v.line, v.rule))


class _Loops:
    """The taint analysis of one vectorised function (and the helpers it calls).

    A taint is the set of data arguments a value depends on (empty: none), or a tuple of such
    sets for a tuple whose elements are known one by one (a cache).
    """

    def __init__(self, checker, module, function):
        self.checker, self.module, self.root = checker, module, function
        self.memo, self.active = {}, set()

    def run(self, taints):
        self.call(self.module, self.root, taints, {})

    def call(self, module, function, taints, closure):
        if isinstance(function, ast.ClassDef):
            return _EMPTY
        key = (id(function), tuple(sorted((name, _flat(t)) for name, t in taints.items())))
        if key in self.memo or id(function) in self.active:
            return self.memo.get(key, _EMPTY)
        self.active.add(id(function))
        frame = _Frame(self, module, function, {**closure, **taints})
        frame.block(function.body)
        self.active.discard(id(function))
        self.memo[key] = frame.returns
        return frame.returns

    def refuse(self, module, node, what):
        self.checker.report("loop", node, f"{_name(self.root)} {what}: a vectorised task may not loop over the "
                            "batch or the output positions (a loop over the kernel taps, such as "
                            "range(kernel_h), is allowed)", module)


class _Frame:
    """One function being read: the taint of each local name, and of what it returns."""

    def __init__(self, loops, module, function, env):
        self.loops, self.module, self.function, self.env = loops, module, function, env
        self.local_defs, self.returns = {}, _EMPTY

    def source(self, node):
        return ast.unparse(node)

    # statements

    def block(self, statements):
        for statement in statements:
            self.statement(statement)

    def statement(self, node):
        if isinstance(node, ast.Assign):
            taint = self.expr(node.value)
            for target in node.targets:
                self.assign(target, taint)
        elif isinstance(node, ast.AugAssign):
            self.assign(node.target, _flat(self.expr(node.value)) | _flat(self.expr(node.target)))
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expr(node.value))
        elif isinstance(node, ast.For | ast.AsyncFor):
            taint = _flat(self.expr(node.iter))
            self.check_iterable(node.iter, taint, "loops over")
            self.assign(node.target, taint)
            for _ in range(2):   # twice: a value tainted late in the body reaches its start
                self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.While):
            self.loops.refuse(self.module, node, f"has a while loop (line {node.lineno})")
            self.expr(node.test)
            for _ in range(2):
                self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.If):
            self.expr(node.test)
            before = dict(self.env)
            self.block(node.body)
            after_body, self.env = self.env, before
            self.block(node.orelse)
            for name, taint in after_body.items():   # either branch may have run
                self.env[name] = _join(self.env.get(name, _EMPTY), taint)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                taint = self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, taint)
            self.block(node.body)
        elif isinstance(node, ast.Try):
            self.block(node.body)
            for handler in node.handlers:
                self.block(handler.body)
            self.block(node.orelse)
            self.block(node.finalbody)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                self.returns = self.returns | _flat(self.expr(node.value))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.local_defs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            pass        # a class defined in the function body: its methods are not followed
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def assign(self, target, taint):
        if isinstance(target, ast.Name):
            self.env[target.id] = taint
        elif isinstance(target, ast.Tuple | ast.List):
            # A cache known element by element keeps its elements apart; the elements the task
            # did not name as data (past the end of the known ones) are not data.
            starred = any(isinstance(element, ast.Starred) for element in target.elts)
            known = isinstance(taint, tuple) and not starred
            for i, element in enumerate(target.elts):
                element_taint = (taint[i] if i < len(taint) else _EMPTY) if known else _flat(taint)
                self.assign(element.value if isinstance(element, ast.Starred) else element, element_taint)
        elif isinstance(target, ast.Subscript | ast.Attribute):
            # out[i] = v: out now holds what v depends on
            root, _ = _chain(target.value) if isinstance(target.value, ast.Attribute) else (target.value, [])
            self.expr(target)
            if isinstance(root, ast.Name):
                self.env[root.id] = _join(self.env.get(root.id, _EMPTY), taint)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, _flat(taint))

    def check_iterable(self, iterable, taint, verb):
        if taint:
            origins = ", ".join(sorted(taint))
            self.loops.refuse(self.module, iterable, f"{verb} {self.source(iterable)} (line {iterable.lineno}), "
                              f"which depends on {origins}")

    # expressions

    def expr(self, node):
        if node is None:
            return _EMPTY
        if isinstance(node, ast.Name):
            return self.env.get(node.id, _EMPTY)
        if isinstance(node, ast.Subscript):
            base, index = self.expr(node.value), self.expr(node.slice)
            if isinstance(base, tuple) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
                position = node.slice.value
                if 0 <= position:
                    return base[position] if position < len(base) else _EMPTY   # past the named data: not data
                if -len(base) <= position:
                    return base[position]
            return _flat(base) | _flat(index)
        if isinstance(node, ast.Tuple | ast.List) and not any(isinstance(e, ast.Starred) for e in node.elts):
            return tuple(self.expr(element) for element in node.elts)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return self.comprehension(node)
        if isinstance(node, ast.NamedExpr):
            taint = self.expr(node.value)
            self.assign(node.target, taint)
            return taint
        if isinstance(node, ast.Lambda):
            return _EMPTY
        if isinstance(node, ast.Call):
            return self.call(node)
        taint = _EMPTY
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                taint = taint | _flat(self.expr(child))
        return taint

    def comprehension(self, node):
        saved = dict(self.env)
        taint = _EMPTY
        for generator in node.generators:
            iterable = _flat(self.expr(generator.iter))
            self.check_iterable(generator.iter, iterable, "loops (in a comprehension) over")
            self.assign(generator.target, iterable)
            taint = taint | iterable
            for condition in generator.ifs:
                self.expr(condition)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            taint = taint | _flat(self.expr(part))
        self.env = saved
        return taint

    def call(self, node):
        arguments = [self.expr(argument.value if isinstance(argument, ast.Starred) else argument)
                     for argument in node.args]
        keywords = {keyword.arg: self.expr(keyword.value) for keyword in node.keywords}
        function_taint = _flat(self.expr(node.func))
        name = _called_name(node.func)
        if name in _HIDDEN_LOOPS:
            self.loops.refuse(self.module, node, f"calls {self.source(node.func)} (line {node.lineno}), a Python "
                              "loop in disguise")
        if name in ("map", "filter"):
            for argument, taint in zip(node.args[1:], arguments[1:]):
                self.check_iterable(argument, _flat(taint), f"maps {self.source(node.args[0])} over")
        found = self.loops.checker.helper(self.module, node.func, self.local_defs)
        if found is not None:
            module, function = found
            closure = self.env if function is self.local_defs.get(getattr(node.func, "id", None)) else {}
            return self.loops.call(module, function, _bind(function, arguments, keywords), closure)
        taint = function_taint
        for value in [*arguments, *keywords.values()]:
            taint = taint | _flat(value)
        return taint


def _bind(function, arguments, keywords):
    """The taint of each parameter of ``function`` for a call with these argument taints."""
    if isinstance(function, ast.ClassDef):
        return {}
    parameters = [a.arg for a in function.args.posonlyargs + function.args.args]
    taints = dict(zip(parameters, arguments))
    for name, taint in keywords.items():
        if name is not None:
            taints[name] = taint
    if function.args.vararg is not None and len(arguments) > len(parameters):
        taints[function.args.vararg.arg] = frozenset().union(*map(_flat, arguments[len(parameters):]))
    return taints


def _flat(taint):
    if isinstance(taint, tuple):
        return frozenset().union(*map(_flat, taint))
    return taint


def _join(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(_join(x, y) for x, y in zip(a, b))
    return _flat(a) | _flat(b)


def _is_stub(node):
    """Whether a function's body is only its docstring and ``raise NotImplementedError(...)``, as released."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return len(body) == 1 and isinstance(body[0], ast.Raise) and body[0].exc is not None and \
        _called_name(body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc) == "NotImplementedError"


def _called_name(func):
    """The last name of what a call calls: f for f(...), conv for a.b.conv(...)."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _name(node):
    return node.name if hasattr(node, "name") else "the module"


def check_task(task, sources):
    """The rules ``task`` breaks in the student's graded files.

    Args:
        task: an ``assignment.Task``.
        sources: {module name: (path, text)} of every graded file of the submission (those the
            task's code may call into); the task's own module must be among them.
    Returns:
        a list of Violations, sorted by file and line; empty when the code keeps every rule.
    """
    modules = {}
    for name, (path, text) in sources.items():
        try:
            modules[name] = _Module(name, path, text)
        except SyntaxError as error:
            if name == task.module_name:
                return [Violation(task.id, "syntax", path, error.lineno or 0,
                                  f"Task {task.id}: {path} does not parse: {error.msg} (line {error.lineno})")]
    if task.module_name not in modules:
        raise ValueError(f"check_task: the sources lack task {task.id}'s module {task.module}")
    return _Checker(task, modules).run()
