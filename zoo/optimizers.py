"""Several optimizers in one Keras optimizer: one per named parameter group of a model.

A model whose capabilities name several optimizer groups (a GAN's generator and discriminator,
a VAE-GAN's encoder, decoder and discriminator) is compiled with a `GroupedOptimizer`. To Keras it
is the model's one `optimizer`, so `fit`, `BackupAndRestore`, `model.save`, the model folders
and the multi-worker loop's checkpoint keep every group's state with no special case; inside, it
routes each variable's gradient to the optimizer of its group (each with its own learning rate
and state), the way Keras's `LossScaleOptimizer` wraps an inner optimizer.
"""

import keras


@keras.saving.register_keras_serializable(package="zoo")
class GroupedOptimizer(keras.optimizers.Optimizer):
    """Named optimizers, one per parameter group; `apply` routes each gradient to its group's.

    The model tells it which variables form each group (`assign_groups`, done by
    `GenerativeModel.compile`) before it is built. `iterations` is the first group's step count
    (every group steps once per training step).

    Args:
        optimizers: {group name: optimizer} (instances, names such as "adam", or configs).

    Example:
        >>> gan.compile(optimizer={"generator": keras.optimizers.Adam(2e-4, beta_1=0.5),
        ...                        "discriminator": keras.optimizers.Adam(2e-4, beta_1=0.5)})
    """

    def __init__(self, optimizers, name=None, **kwargs):
        if not isinstance(optimizers, dict) or not optimizers:
            raise ValueError("GroupedOptimizer takes a non-empty dict {group name: optimizer}, "
                             f"got {optimizers!r}.")
        super().__init__(learning_rate=0.0, name=name or "grouped_optimizer")
        self.group_optimizers = {group: keras.optimizers.get(opt)
                                 for group, opt in optimizers.items()}
        self._group_of = None
        object.__setattr__(self, "_all_variables", ())

    @property
    def group_names(self):
        return tuple(self.group_optimizers)

    def assign_groups(self, groups):
        """Records which variables each group trains: {group name: [variables]}."""
        missing = sorted(set(self.group_optimizers) - set(groups))
        extra = sorted(set(groups) - set(self.group_optimizers))
        if missing or extra:
            raise ValueError(f"The optimizer's groups {list(self.group_optimizers)} do not match "
                             f"the model's {list(groups)}.")
        self._group_of = {}
        for group, variables in groups.items():
            for variable in variables:
                self._group_of[_key(variable)] = group
        # Set past Keras's attribute tracking, which would adopt the model's variables as
        # optimizer state.
        object.__setattr__(self, "_all_variables",
                           tuple(v for variables in groups.values() for v in variables))

    def _split(self, values, variables):
        """{group: ([values], [variables])} in group order."""
        if self._group_of is None:
            raise ValueError("GroupedOptimizer does not know the model's parameter groups: "
                             "compile the model with it (model.compile) before training.")
        split = {group: ([], []) for group in self.group_optimizers}
        for value, variable in zip(values, variables):
            group = self._group_of.get(_key(variable))
            if group is None:
                raise ValueError(f"Variable {variable.path} belongs to no parameter group of "
                                 f"the model ({', '.join(self.group_optimizers)}).")
            split[group][0].append(value)
            split[group][1].append(variable)
        return split

    def build(self, var_list):
        for group, (_, variables) in self._split(var_list, var_list).items():
            self.group_optimizers[group].build(variables)
        super().build(var_list)

    @property
    def variables(self):
        inner = [v for opt in self.group_optimizers.values() for v in opt.variables]
        return self._variables + inner

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            raise ValueError("GroupedOptimizer.apply needs the variables of the gradients.")
        if not self.built:  # every group at once: the first call may carry one group only
            with keras.name_scope(self.name, caller=self):
                self.build(self._all_variables)
        for group, (group_grads, variables) in self._split(grads, trainable_variables).items():
            if variables:
                self.group_optimizers[group].apply(group_grads, variables)

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars)
        return self.apply(list(grads), list(variables))

    @property
    def iterations(self):
        return next(iter(self.group_optimizers.values())).iterations

    @property
    def learning_rate(self):
        """The first group's learning rate (each group keeps its own; see `group_optimizers`)."""
        return next(iter(self.group_optimizers.values())).learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        # The base constructor sets 0.0 before the groups exist; afterwards set each group's.
        if "group_optimizers" not in self.__dict__:
            return
        for opt in self.group_optimizers.values():
            opt.learning_rate = value

    def finalize_variable_values(self, var_list):
        for group, (_, variables) in self._split(var_list, var_list).items():
            if variables:
                self.group_optimizers[group].finalize_variable_values(variables)

    def get_config(self):
        # A list of [group, optimizer] pairs: the group order is the update order and the
        # order of the state variables, and JSON dicts may come back with their keys sorted.
        return {"name": self.name,
                "optimizers": [[group, keras.saving.serialize_keras_object(opt)]
                               for group, opt in self.group_optimizers.items()]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        pairs = config["optimizers"]
        pairs = pairs.items() if isinstance(pairs, dict) else pairs  # older folders: a dict
        optimizers = {group: keras.saving.deserialize_keras_object(
            opt, custom_objects=custom_objects) for group, opt in pairs}
        return cls(optimizers, name=config.get("name"))


def _key(variable):
    # Keras variables of one model have unique paths; under tf.distribute the same Keras
    # variable object is seen in every replica, so its path identifies it everywhere.
    return variable.path


def grouped(optimizer, groups):
    """A GroupedOptimizer for the group names `groups` from what `compile` was given: a dict
    {group: optimizer}, a GroupedOptimizer, or one optimizer (copied for every group)."""
    if isinstance(optimizer, GroupedOptimizer):
        result = optimizer
    elif isinstance(optimizer, dict) and set(optimizer) <= set(groups) and optimizer:
        missing = [g for g in groups if g not in optimizer]
        if missing:
            raise ValueError(f"compile(optimizer={{...}}) names no optimizer for the groups "
                             f"{missing}; give one per group: {list(groups)}.")
        result = GroupedOptimizer({g: optimizer[g] for g in groups})
    elif isinstance(optimizer, dict) and "class_name" not in optimizer:
        raise ValueError(f"compile(optimizer={{...}}) must name the model's groups "
                         f"{list(groups)}, got {sorted(optimizer)}.")
    else:
        single = keras.optimizers.get(optimizer)
        config = keras.saving.serialize_keras_object(single)
        result = GroupedOptimizer({g: keras.saving.deserialize_keras_object(config)
                                   for g in groups})
    if result.group_names != tuple(groups):
        raise ValueError(f"The optimizer's groups {list(result.group_names)} do not match the "
                         f"model's {list(groups)}.")
    return result
