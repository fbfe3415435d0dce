/* Output.json_dumps and Output.json_loads: json.dumps / json.loads of an
 * Output's value, built on apply.
 *
 * They are C so that _outrun stands alone: `import _outrun` needs nothing
 * above it.  Each step does what the Python they were first written in
 * did:
 *
 *   json_dumps(obj, **kw) = Output.from_input(obj).apply(dump), where
 *       dump(value) runs json.dumps(value, cls=Encoder, **kw) with Encoder
 *       a subclass of kw's cls (json.JSONEncoder if none) made for the
 *       call, whose default() passes an already resolved Output's value
 *       through and gathers its secrecy, knownness and dependencies;
 *   json_loads(s, **kw) = Output.from_input(s).apply(
 *       lambda text: json.loads(text, **kw)).
 *
 * Being C, none of it shows as a frame in a traceback, a recorded creation
 * site or the stall watchdog's stack: those name the program's line.
 */
#include "output_internal.h"

/* What a JsonStep does when called. */
enum {
    JSON_DUMP,    /* dump(value): json_dumps' function for apply */
    JSON_LOADS,   /* loads(text): json_loads' function for apply */
    JSON_DEFAULT, /* default(encoder, o): Encoder.default for one dump */
};

/* A step of json_dumps or json_loads, with what it needs. */
typedef struct {
    PyObject_HEAD
    int kind;
    PyObject *base_cls;     /* JSON_DUMP: the class Encoder derives from */
    PyObject *user_default; /* JSON_DUMP, JSON_DEFAULT: default=, or NULL */
    PyObject *kwargs;       /* JSON_DUMP, JSON_LOADS: json's keywords */
    /* JSON_DEFAULT: the Encoder class (for super()), and the facts of the
     * Outputs met while encoding one value. */
    PyObject *encoder;
    PyObject *deps; /* a set */
    int known, secret;
} JsonStepObject;

/* Returns the json module (borrowed), imported on first use. */
static PyObject *
json_module(bnd_state *st)
{
    if (st->json == NULL)
        st->json = PyImport_ImportModule("json");
    return st->json;
}

static JsonStepObject *
step_new(bnd_state *st, int kind)
{
    JsonStepObject *step = (JsonStepObject *)PyType_GenericAlloc(
        st->JsonStepType, 0);

    if (step != NULL)
        step->kind = kind;
    return step;
}

/* Removes key from dict d.  Returns its value (a new reference), or NULL:
 * with an exception set on failure, without one when key is absent. */
static PyObject *
dict_pop(PyObject *d, const char *key)
{
    PyObject *v = PyDict_GetItemString(d, key); /* borrowed */

    if (v == NULL)
        return NULL;
    Py_INCREF(v);
    if (PyDict_DelItemString(d, key) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

/* Binds the arguments of fname(cls, *args, **kwargs) as Python binds them
 * for `def fname(Output, pname, **kwargs)`, the Python version's
 * signature, with its messages.  Sets *value (borrowed) and *rest (a new
 * dict of the other keywords).  Returns 0 or -1 with TypeError. */
static int
bind_args(const char *fname, const char *pname, PyObject *args,
          PyObject *kwargs, PyObject **value, PyObject **rest)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    PyObject *key, *item;
    Py_ssize_t pos = 0;

    *value = nargs >= 1 ? PyTuple_GET_ITEM(args, 0) : NULL;
    *rest = kwargs != NULL ? PyDict_Copy(kwargs) : PyDict_New();
    if (*rest == NULL)
        return -1;
    while (kwargs != NULL && PyDict_Next(kwargs, &pos, &key, &item)) {
        if (!PyUnicode_Check(key))
            continue;
        if (PyUnicode_CompareWithASCIIString(key, "Output") == 0) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got multiple values for argument 'Output'",
                         fname);
            goto error;
        }
        if (PyUnicode_CompareWithASCIIString(key, pname) != 0)
            continue;
        if (*value != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got multiple values for argument '%s'", fname,
                         pname);
            goto error;
        }
        *value = item;
        if (PyDict_DelItem(*rest, key) < 0)
            goto error;
    }
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError,
                     "%s() takes 2 positional arguments but %zd were given",
                     fname, nargs + 1);
        goto error;
    }
    if (*value == NULL) {
        PyErr_Format(PyExc_TypeError,
                     "%s() missing 1 required positional argument: '%s'",
                     fname, pname);
        goto error;
    }
    return 0;
error:
    Py_CLEAR(*rest);
    *value = NULL;
    return -1;
}

/* Returns Output.from_input(value).apply(step).  Steals step. */
static PyObject *
apply_to(bnd_state *st, PyObject *value, JsonStepObject *step)
{
    PyObject *src = bnd_output_from_input(st, value), *r;

    if (src == NULL) {
        Py_DECREF(step);
        return NULL;
    }
    r = bnd_output_derive((OutputObject *)src, OP_APPLY, LIFT_NONE,
                          (PyObject *)step, 0);
    Py_DECREF(src);
    Py_DECREF(step);
    return r;
}

/* ------------------------------------------------------------------ */
/* json_dumps                                                          */
/* ------------------------------------------------------------------ */

/* Raises v as `raise v` would. */
static void
raise_object(PyObject *v)
{
    if (PyExceptionInstance_Check(v))
        PyErr_SetObject((PyObject *)Py_TYPE(v), v);
    else if (PyExceptionClass_Check(v))
        PyErr_SetNone(v);
    else
        PyErr_SetString(PyExc_TypeError,
                        "exceptions must derive from BaseException");
}

/* The Output r, met while encoding: gathers its facts into enc and returns
 * its value, or fails when it is pending (it cannot be waited for here) or
 * rejected (with its exception). */
static PyObject *
take_output(JsonStepObject *enc, PyObject *r)
{
    PyObject *facts, *items, *state, *v, *k, *s, *d, *it, *dep, *value = NULL;
    Py_ssize_t n;
    int t;

    facts = PyObject_CallMethod(r, "_peek", NULL);
    if (facts == NULL)
        return NULL;
    items = PySequence_Tuple(facts);
    Py_DECREF(facts);
    if (items == NULL)
        return NULL;
    n = PyTuple_GET_SIZE(items);
    if (n != 5) {
        if (n > 5)
            PyErr_SetString(PyExc_ValueError,
                            "too many values to unpack (expected 5)");
        else
            PyErr_Format(PyExc_ValueError,
                         "not enough values to unpack (expected 5, got %zd)",
                         n);
        goto done;
    }
    state = PyTuple_GET_ITEM(items, 0);
    v = PyTuple_GET_ITEM(items, 1);
    k = PyTuple_GET_ITEM(items, 2);
    s = PyTuple_GET_ITEM(items, 3);
    d = PyTuple_GET_ITEM(items, 4);
    if (PyUnicode_Check(state) &&
        PyUnicode_CompareWithASCIIString(state, "pending") == 0) {
        PyErr_SetString(
            PyExc_TypeError,
            "Output.json_dumps() met a pending Output inside a custom "
            "object; pass the object through Output.from_input() or apply() "
            "first so that the Output is waited for");
        goto done;
    }
    if (PyUnicode_Check(state) &&
        PyUnicode_CompareWithASCIIString(state, "rejected") == 0) {
        raise_object(v);
        goto done;
    }
    /* secret = secret or s; known = known and k */
    if (!enc->secret) {
        if ((t = PyObject_IsTrue(s)) < 0)
            goto done;
        enc->secret = t;
    }
    if (enc->known) {
        if ((t = PyObject_IsTrue(k)) < 0)
            goto done;
        enc->known = t;
    }
    /* deps.update(d) */
    it = PyObject_GetIter(d);
    if (it == NULL)
        goto done;
    while ((dep = PyIter_Next(it)) != NULL) {
        t = PySet_Add(enc->deps, dep);
        Py_DECREF(dep);
        if (t < 0)
            break;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        goto done;
    value = Py_NewRef(v);
done:
    Py_DECREF(items);
    return value;
}

/* Returns super(Encoder, encoder).default(o). */
static PyObject *
super_default(JsonStepObject *enc, PyObject *encoder, PyObject *o)
{
    PyObject *sup, *fn, *r;

    sup = PyObject_CallFunctionObjArgs((PyObject *)&PySuper_Type,
                                       enc->encoder, encoder, NULL);
    if (sup == NULL)
        return NULL;
    fn = PyObject_GetAttrString(sup, "default");
    Py_DECREF(sup);
    if (fn == NULL)
        return NULL;
    r = PyObject_CallOneArg(fn, o);
    Py_DECREF(fn);
    return r;
}

/* Encoder.default(self, o): what json calls for an object it cannot
 * encode.  An Output is used if it is resolved; so is one that the
 * user's default (or the base class's) returns. */
static PyObject *
encoder_default(JsonStepObject *enc, PyObject *encoder, PyObject *o)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(enc));
    PyObject *out = (PyObject *)st->OutputType, *r, *value;
    int is_out = PyObject_IsInstance(o, out);

    if (is_out < 0)
        return NULL;
    if (is_out)
        r = Py_NewRef(o);
    else if (enc->user_default != NULL)
        r = PyObject_CallOneArg(enc->user_default, o);
    else
        r = super_default(enc, encoder, o);
    if (r == NULL)
        return NULL;
    is_out = PyObject_IsInstance(r, out);
    if (is_out <= 0) {
        if (is_out < 0)
            Py_CLEAR(r);
        return r;
    }
    value = take_output(enc, r);
    Py_DECREF(r);
    return value;
}

/* Returns `class Encoder(base_cls)` with enc as its default method, made
 * as the class statement makes it: by the base's metaclass, in the
 * namespace its __prepare__ gives. */
static PyObject *
make_encoder(PyObject *base_cls, JsonStepObject *enc)
{
    PyObject *meta = (PyObject *)Py_TYPE(base_cls);
    PyObject *name, *bases = NULL, *prepare = NULL, *ns = NULL;
    PyObject *module = NULL, *qualname = NULL, *method = NULL, *cls = NULL;

    name = PyUnicode_FromString("Encoder");
    bases = PyTuple_Pack(1, base_cls);
    if (name == NULL || bases == NULL)
        goto done;
    prepare = PyObject_GetAttrString(meta, "__prepare__");
    if (prepare != NULL) {
        ns = PyObject_CallFunctionObjArgs(prepare, name, bases, NULL);
    } else if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        ns = PyDict_New();
    }
    module = PyUnicode_FromString("_outrun");
    qualname = PyUnicode_FromString("json_dumps.<locals>.dump.<locals>."
                                    "Encoder");
    method = PyInstanceMethod_New((PyObject *)enc);
    if (ns == NULL || module == NULL || qualname == NULL || method == NULL)
        goto done;
    if (PyMapping_SetItemString(ns, "__module__", module) < 0 ||
        PyMapping_SetItemString(ns, "__qualname__", qualname) < 0 ||
        PyMapping_SetItemString(ns, "default", method) < 0)
        goto done;
    cls = PyObject_CallFunctionObjArgs(meta, name, bases, ns, NULL);
done:
    Py_XDECREF(name);
    Py_XDECREF(bases);
    Py_XDECREF(prepare);
    Py_XDECREF(ns);
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    Py_XDECREF(method);
    return cls;
}

/* dump(value): json.dumps(value, cls=Encoder, **kwargs); an Output when
 * an Output met inside was secret, unknown or had dependencies, else the
 * text. */
static PyObject *
dump(JsonStepObject *self, PyObject *value)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(self));
    JsonStepObject *enc;
    PyObject *json, *encoder = NULL, *kw = NULL, *dumps = NULL;
    PyObject *args = NULL, *text = NULL, *deps = NULL, *r = NULL;

    json = json_module(st);
    if (json == NULL)
        return NULL;
    enc = step_new(st, JSON_DEFAULT);
    if (enc == NULL)
        return NULL;
    enc->user_default = Py_XNewRef(self->user_default);
    enc->deps = PySet_New(NULL);
    enc->known = 1;
    if (enc->deps == NULL)
        goto done;
    encoder = make_encoder(self->base_cls, enc);
    if (encoder == NULL)
        goto done;
    enc->encoder = Py_NewRef(encoder);
    kw = PyDict_New();
    if (kw == NULL || PyDict_SetItemString(kw, "cls", encoder) < 0 ||
        PyDict_Update(kw, self->kwargs) < 0)
        goto done;
    dumps = PyObject_GetAttrString(json, "dumps");
    args = PyTuple_Pack(1, value);
    if (dumps == NULL || args == NULL)
        goto done;
    text = PyObject_Call(dumps, args, kw);
    if (text == NULL || bnd_deps_from(enc->deps, &deps) < 0)
        goto done;
    if (!enc->known)
        r = (PyObject *)bnd_output_new_resolved(st, Py_NewRef(Py_None), 0,
                                                enc->secret, deps);
    else if (enc->secret || deps != NULL)
        r = (PyObject *)bnd_output_new_resolved(st, Py_NewRef(text), 1,
                                                enc->secret, deps);
    else
        r = Py_NewRef(text);
done:
    Py_DECREF(enc);
    Py_XDECREF(encoder);
    Py_XDECREF(kw);
    Py_XDECREF(dumps);
    Py_XDECREF(args);
    Py_XDECREF(text);
    return r;
}

PyObject *
bnd_output_json_dumps(PyObject *cls, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    PyObject *json, *obj, *rest, *base_cls, *user_default;
    JsonStepObject *step;
    int given;

    assert(PyGILState_Check());
    json = json_module(st);
    if (json == NULL || bind_args("json_dumps", "obj", args, kwargs, &obj,
                                  &rest) < 0)
        return NULL;
    /* base_cls = kwargs.pop("cls", None) or json.JSONEncoder */
    base_cls = dict_pop(rest, "cls");
    given = base_cls == NULL ? 0 : PyObject_IsTrue(base_cls);
    if (PyErr_Occurred())
        goto error;
    if (!given) {
        Py_XSETREF(base_cls, PyObject_GetAttrString(json, "JSONEncoder"));
        if (base_cls == NULL)
            goto error;
    }
    /* A default= of the user's runs inside the encoder, so that what it
     * returns may be an Output too. */
    user_default = dict_pop(rest, "default");
    if (PyErr_Occurred())
        goto error;
    if (user_default == Py_None)
        Py_CLEAR(user_default);
    step = step_new(st, JSON_DUMP);
    if (step == NULL) {
        Py_XDECREF(user_default);
        goto error;
    }
    step->base_cls = base_cls;
    step->user_default = user_default;
    step->kwargs = rest;
    return apply_to(st, obj, step);
error:
    Py_XDECREF(base_cls);
    Py_DECREF(rest);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* json_loads                                                          */
/* ------------------------------------------------------------------ */

/* loads(text): json.loads(text, **kwargs). */
static PyObject *
loads(JsonStepObject *self, PyObject *text)
{
    bnd_state *st = bnd_get_state_by_type(Py_TYPE(self));
    PyObject *json = json_module(st), *fn, *args, *r;

    if (json == NULL)
        return NULL;
    fn = PyObject_GetAttrString(json, "loads");
    if (fn == NULL)
        return NULL;
    args = PyTuple_Pack(1, text);
    r = args == NULL ? NULL : PyObject_Call(fn, args, self->kwargs);
    Py_XDECREF(args);
    Py_DECREF(fn);
    return r;
}

PyObject *
bnd_output_json_loads(PyObject *cls, PyObject *args, PyObject *kwargs)
{
    bnd_state *st = bnd_get_state_by_type((PyTypeObject *)cls);
    PyObject *s, *rest;
    JsonStepObject *step;

    assert(PyGILState_Check());
    if (json_module(st) == NULL ||
        bind_args("json_loads", "s", args, kwargs, &s, &rest) < 0)
        return NULL;
    step = step_new(st, JSON_LOADS);
    if (step == NULL) {
        Py_DECREF(rest);
        return NULL;
    }
    step->kwargs = rest;
    return apply_to(st, s, step);
}

/* ------------------------------------------------------------------ */
/* The JsonStep type                                                   */
/* ------------------------------------------------------------------ */

static PyObject *
JsonStep_call(JsonStepObject *self, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t want = self->kind == JSON_DEFAULT ? 2 : 1;

    if ((kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0) ||
        PyTuple_GET_SIZE(args) != want) {
        PyErr_Format(PyExc_TypeError,
                     "this step of json_dumps/json_loads takes %zd "
                     "positional argument%s",
                     want, want == 1 ? "" : "s");
        return NULL;
    }
    switch (self->kind) {
    case JSON_DUMP:
        return dump(self, PyTuple_GET_ITEM(args, 0));
    case JSON_LOADS:
        return loads(self, PyTuple_GET_ITEM(args, 0));
    default:
        return encoder_default(self, PyTuple_GET_ITEM(args, 0),
                               PyTuple_GET_ITEM(args, 1));
    }
}

/* The names these had as Python closures, which the pending report
 * (output_report.c) shows for an apply of one. */
static PyObject *
JsonStep_get_qualname(JsonStepObject *self, void *closure)
{
    return PyUnicode_FromString(
        self->kind == JSON_DUMP    ? "json_dumps.<locals>.dump"
        : self->kind == JSON_LOADS ? "json_loads.<locals>.<lambda>"
                                   : "json_dumps.<locals>.dump.<locals>."
                                     "Encoder.default");
}

static int
JsonStep_traverse(JsonStepObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->base_cls);
    Py_VISIT(self->user_default);
    Py_VISIT(self->kwargs);
    Py_VISIT(self->encoder);
    Py_VISIT(self->deps);
    return 0;
}

static int
JsonStep_clear(JsonStepObject *self)
{
    Py_CLEAR(self->base_cls);
    Py_CLEAR(self->user_default);
    Py_CLEAR(self->kwargs);
    Py_CLEAR(self->encoder);
    Py_CLEAR(self->deps);
    return 0;
}

static void
JsonStep_dealloc(JsonStepObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    JsonStep_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyGetSetDef JsonStep_getset[] = {
    {"__qualname__", (getter)JsonStep_get_qualname, NULL, NULL, NULL},
    {NULL},
};

static PyType_Slot JsonStep_slots[] = {
    {Py_tp_doc, "A step of Output.json_dumps or Output.json_loads."},
    {Py_tp_call, JsonStep_call},
    {Py_tp_traverse, JsonStep_traverse},
    {Py_tp_clear, JsonStep_clear},
    {Py_tp_dealloc, JsonStep_dealloc},
    {Py_tp_getset, JsonStep_getset},
    {0, NULL},
};

static PyType_Spec JsonStep_spec = {
    .name = "_outrun._JsonStep",
    .basicsize = sizeof(JsonStepObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = JsonStep_slots,
};

int
bnd_output_json_init(PyObject *module, bnd_state *st)
{
    assert(PyGILState_Check());
    /* Not added to the module: nothing outside this file makes one. */
    st->JsonStepType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &JsonStep_spec, NULL);
    return st->JsonStepType == NULL ? -1 : 0;
}
