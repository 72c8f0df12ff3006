"""Building the pretrained presets from their recipes (`zoo.preset_recipes`): train or adopt a
run, evaluate, write golden values and the model card (`builder`)."""
